import Tinypool from 'tinypool';
import { errorRow } from '../../sweep/run-row.js';
import { executeRun, generateGuest, type RunResult, type RunTask } from './execute-run.js';
import { columnsOf, type GuestColumns, type SharedGuest } from './shared-guest.js';
import type { SweepRun } from './sweep-runs.js';
import type { WorkerTask } from './sweep-worker.js';

/**
 * The threads a sweep runs on: `jobs` worker threads, or, for one job,
 * this thread alone (no worker to start, no message to copy: the same
 * functions, so the same rows). With workers, this thread only hands out
 * runs and writes their results: --jobs N keeps N threads busy, not N + 1.
 *
 * Started before the grid is read: each worker loads the simulator's
 * modules (tinypool imports the worker module as the thread starts) while
 * this thread parses and checks the grid, so neither waits for the other.
 */
export interface SweepThreads {
  readonly jobs: number;
  readonly pool: Tinypool | undefined;
  /** Ends the workers (once, however often called). */
  destroy(): Promise<void>;
}

export function startSweepThreads(jobs: number): SweepThreads {
  if (jobs <= 1) return { jobs: 1, pool: undefined, destroy: async () => {} };
  const pool = new Tinypool({ filename: new URL('./sweep-worker.js', import.meta.url).href, minThreads: jobs, maxThreads: jobs, idleTimeout: 60_000 });
  let destroyed: Promise<void> | undefined;
  return { jobs, pool, destroy: () => (destroyed ??= pool.destroy()) };
}

/**
 * Runs a sweep's runs on its threads and reports each result as it comes.
 * Results do not depend on the threads: each run is a pure function of
 * its parameters, and the table is sorted by grid order when written.
 *
 * Runs that migrate the same guest (same workload, seed and guest config)
 * are a group: when a group has more than one run to do, its guest events
 * are generated once, by one thread, into shared memory (shared-guest.ts)
 * and every run of the group reads them. At most `jobs + 1` groups are
 * open at a time, so at most that many guests are held in memory, while
 * every thread has work: one group's runs go on while the next group's
 * guest is generated. A group's buffers, once its runs are over, take the
 * next group's guest (fresh memory costs page faults as it is first
 * written, for every guest otherwise).
 */
export async function executeSweep(runs: readonly SweepRun[], threads: SweepThreads, onResult: (r: RunResult) => void, nowMs: () => number): Promise<void> {
  const groups = groupByGuest(runs);
  const free: GuestColumns[] = [];
  const pool = threads.pool;
  if (!pool) {
    for (const g of groups) {
      const reuse = g.length > 1 ? free.pop() : undefined;
      const guest = g.length > 1 ? tryGenerate(g[0]!.argv, reuse) : undefined;
      for (const r of g) {
        onResult(executeRun(task(r), guest, nowMs));
        // Lets the progress bar draw and a signal be handled between runs.
        await new Promise((resolve) => setImmediate(resolve));
      }
      const done = guest ? columnsOf(guest) : reuse;
      if (done) free.push(done);
    }
    return;
  }
  const open = new Set<Promise<void>>();
  for (const g of groups) {
    while (open.size > threads.jobs) await Promise.race(open);
    const p = runGroup(pool, g, free, onResult).finally(() => open.delete(p));
    open.add(p);
  }
  await Promise.all(open);
}

async function runGroup(pool: Tinypool, g: readonly SweepRun[], free: GuestColumns[], onResult: (r: RunResult) => void): Promise<void> {
  let guest: SharedGuest | undefined;
  if (g.length > 1) {
    const reuse = free.pop();
    try {
      guest = (await pool.run({ kind: 'guest', argv: g[0]!.argv, reuse } satisfies WorkerTask)) as SharedGuest;
    } catch {
      // Each run then generates its own, and reports the error as its own.
      guest = undefined;
      if (reuse) free.push(reuse);
    }
  }
  await Promise.all(
    g.map(async (r) => {
      try {
        onResult((await pool.run({ kind: 'run', run: task(r), guest } satisfies WorkerTask)) as RunResult);
      } catch (e) {
        onResult({ id: r.id, row: errorRow(r.id, r.index, r.params, `worker failed: ${(e as Error)?.message ?? String(e)}`), ms: 0, failed: true });
      }
    }),
  );
  if (guest) free.push(columnsOf(guest));
}

function tryGenerate(argv: readonly string[], reuse: GuestColumns | undefined): SharedGuest | undefined {
  try {
    return generateGuest(argv, reuse);
  } catch {
    return undefined;
  }
}

function task(r: SweepRun): RunTask {
  return { id: r.id, index: r.index, params: r.params, argv: r.argv };
}

/** Runs grouped by guest, groups in the order of their first run. */
function groupByGuest(runs: readonly SweepRun[]): SweepRun[][] {
  const groups = new Map<string, SweepRun[]>();
  for (const r of runs) {
    const g = groups.get(r.guestKey);
    if (g) g.push(r);
    else groups.set(r.guestKey, [r]);
  }
  return [...groups.values()];
}
