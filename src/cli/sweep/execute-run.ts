import { runMigration } from '../../api/run-migration.js';
import { ArrayPool, withArrayPool } from '../../util/array-pool.js';
import { errorRow, runRow, type RunRow } from '../../sweep/run-row.js';
import { userFacingMessage } from '../cli-failure.js';
import { migrationJson } from '../format-migration.js';
import { type GuestColumns, type SharedGuest, sharedSource, shareGuest } from './shared-guest.js';
import { inputsOf, type RunCliOptions } from './sweep-runs.js';

/** What a worker needs of a run: its target and parsed options (SweepRun.opts), and what its row is keyed by. */
export interface RunTask {
  readonly id: string;
  readonly index: number;
  readonly params: Readonly<Record<string, string | number | boolean>>;
  readonly target: string;
  readonly opts: RunCliOptions;
}

/** A run's row and how long it took (kept out of the row: timing differs run to run, rows never). */
export interface RunResult {
  readonly id: string;
  readonly row: RunRow;
  readonly ms: number;
  readonly failed: boolean;
}

/**
 * This thread's large typed arrays, handed from one run (or guest) to the
 * next (src/util/array-pool.ts): a sweep's runs have the same shapes, so
 * after the first few each run finds its arrays there instead of asking
 * the kernel for fresh zeroed memory and V8 for a full collection.
 */
const POOL = new ArrayPool();

/**
 * Runs one sweep run as `migsim run ARGV --json` would, over the shared
 * guest events when given (same events, batch for batch), and returns
 * its row. An error is the run's result (outcome 'error'), not the
 * sweep's end: the other runs go on.
 */
export function executeRun(t: RunTask, guest: SharedGuest | undefined, nowMs: () => number): RunResult {
  const started = nowMs();
  try {
    const opts = t.opts;
    const inputs = inputsOf(t.target, opts);
    const source = guest ? sharedSource(guest, inputs.source.label) : inputs.source;
    // The row is plain values: the run's arrays go back to the pool when it is made.
    const row = withArrayPool(POOL, () => runRow(t.id, t.index, t.params, migrationJson(source, runMigration(source, { tracker: opts.tracker, ...inputs.runOptions }))));
    return { id: t.id, row, ms: nowMs() - started, failed: false };
  } catch (e) {
    const message = userFacingMessage(e) ?? `internal error: ${(e as Error)?.stack ?? String(e)}`;
    return { id: t.id, row: errorRow(t.id, t.index, t.params, message), ms: nowMs() - started, failed: true };
  }
}

/** The guest events of a run, generated or decoded once for all the runs that share them (into `reuse`'s buffers when given). */
export function generateGuest(t: Pick<RunTask, 'target' | 'opts'>, reuse?: GuestColumns): SharedGuest {
  // shareGuest copies each batch into the shared columns as it comes: the generator's arrays are not needed after.
  return withArrayPool(POOL, () => shareGuest(inputsOf(t.target, t.opts).source, reuse));
}
