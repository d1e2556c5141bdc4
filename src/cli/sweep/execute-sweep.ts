import Tinypool from 'tinypool';
import { errorRow } from '../../sweep/run-row.js';
import { executeRun, generateGuest, type RunResult, type RunTask } from './execute-run.js';
import type { SharedGuest } from './shared-guest.js';
import type { SweepRun } from './sweep-runs.js';
import type { WorkerTask } from './sweep-worker.js';

/**
 * Runs a sweep's runs on `jobs` threads and reports each result as it
 * comes. Results do not depend on `jobs`: each run is a pure function of
 * its parameters, and the table is sorted by grid order when written.
 *
 * Runs that migrate the same guest (same workload, seed and guest config)
 * are a group: when a group has more than one run to do, its guest events
 * are generated once, by one worker, into shared memory (shared-guest.ts)
 * and every run of the group reads them. At most `jobs + 1` groups are
 * open at a time, so at most that many guests are held in memory, while
 * every thread has work: one group's runs go on while the next group's
 * guest is generated.
 *
 * With one job everything runs on this thread (no worker to start, no
 * message to copy): the same functions, so the same rows.
 */
export async function executeSweep(runs: readonly SweepRun[], jobs: number, onResult: (r: RunResult) => void, nowMs: () => number): Promise<void> {
  const groups = groupByGuest(runs);
  if (jobs <= 1) {
    for (const g of groups) {
      const guest = g.length > 1 ? tryGenerate(g[0]!.argv) : undefined;
      for (const r of g) {
        onResult(executeRun(task(r), guest, nowMs));
        // Lets the progress bar draw and a signal be handled between runs.
        await new Promise((resolve) => setImmediate(resolve));
      }
    }
    return;
  }
  const pool = new Tinypool({ filename: new URL('./sweep-worker.js', import.meta.url).href, minThreads: jobs, maxThreads: jobs, idleTimeout: 60_000 });
  try {
    const open = new Set<Promise<void>>();
    for (const g of groups) {
      while (open.size > jobs) await Promise.race(open);
      const p = runGroup(pool, g, onResult).finally(() => open.delete(p));
      open.add(p);
    }
    await Promise.all(open);
  } finally {
    await pool.destroy();
  }
}

async function runGroup(pool: Tinypool, g: readonly SweepRun[], onResult: (r: RunResult) => void): Promise<void> {
  let guest: SharedGuest | undefined;
  if (g.length > 1) {
    try {
      guest = (await pool.run({ kind: 'guest', argv: g[0]!.argv } satisfies WorkerTask)) as SharedGuest;
    } catch {
      // Each run then generates its own, and reports the error as its own.
      guest = undefined;
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
}

function tryGenerate(argv: readonly string[]): SharedGuest | undefined {
  try {
    return generateGuest(argv);
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
