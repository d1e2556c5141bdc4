import type { Tinypool } from 'tinypool';
import { errorRow } from '../../sweep/run-row.js';
import { executeRun, generateGuest, type RunResult, type RunTask } from './execute-run.js';
import type { GuestColumns, SharedGuest } from './shared-guest.js';
import { SweepQueue } from './sweep-queue.js';
import type { SweepRun } from './sweep-runs.js';
import type { WorkerTask } from './sweep-worker.js';

/**
 * The threads a sweep runs on: this thread and `jobs - 1` worker threads.
 * This thread runs runs too, between handing out the workers' and writing
 * results: it has loaded the simulator already, and every thread that
 * runs runs pays for loading the simulator's modules (about 0.5 s of CPU)
 * and for compiling its hot loops (about 1 s on V8's compiler thread), so
 * N threads that all run runs cost one such start-up less than N workers
 * and an idle main thread (measured on the sweep bench: the start-up of a
 * thread is as much CPU as 30 apache runs). --jobs N keeps N threads busy.
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

/**
 * Tasks a worker holds at once: the next is already posted when one ends,
 * so a worker does not wait for this thread, busy with a run of its own,
 * to hand it another.
 */
const WORKER_DEPTH = 2;

export async function startSweepThreads(jobs: number): Promise<SweepThreads> {
  if (jobs <= 1) return { jobs: 1, pool: undefined, destroy: async () => {} };
  const workers = jobs - 1;
  // tinypool is an ES module only: import(), which the bundle (CommonJS for
  // its code cache, src/cli/code-cache.cts) keeps as import(); a require()
  // of an ES module warns or fails on some Node versions.
  const { Tinypool } = await import('tinypool');
  const pool = new Tinypool({ filename: new URL('./sweep-worker.js', import.meta.url).href, minThreads: workers, maxThreads: workers, concurrentTasksPerWorker: WORKER_DEPTH, idleTimeout: 60_000 });
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
 * and every run of the group, on any thread, reads them. This thread
 * generates them (a worker then never warms up the generator), unless it
 * cannot keep the workers in runs alone (SweepQueue). At most `jobs + 1`
 * guests are held at a time; the next group is opened (its guest
 * generated) while the workers still have runs to take, so no thread
 * waits for a guest. A group's buffers, once its runs are over,
 * take the next group's guest (fresh memory costs page faults as it is
 * first written, for every guest otherwise). Groups are taken largest
 * first (by the runs' estimated cost), so the threads end together.
 */
export async function executeSweep(runs: readonly SweepRun[], threads: SweepThreads, onResult: (r: RunResult) => void, nowMs: () => number): Promise<void> {
  const queue = new SweepQueue(groupByGuest(runs), threads.jobs);
  const pool = threads.pool;
  // This thread: one job at a time, yielding between jobs so that the
  // workers' results are taken, the progress bar drawn and a signal handled.
  const local = async (): Promise<void> => {
    for (let job = await queue.take(false, true); job; job = await queue.take(false, true)) {
      if (job.kind === 'guest') queue.guestReady(job.group, tryGenerate(task(job.group.runs[0]!), job.reuse), job.reuse);
      else {
        onResult(executeRun(task(job.run), job.group.guest, nowMs));
        queue.runDone(job.group);
      }
      await new Promise((resolve) => setImmediate(resolve));
    }
  };
  if (!pool) return local();
  const worker = async (spare: boolean): Promise<void> => {
    for (let job = await queue.take(spare, false); job; job = await queue.take(spare, false)) {
      if (job.kind === 'guest') {
        let guest: SharedGuest | undefined;
        try {
          guest = (await pool.run({ kind: 'guest', run: guestTask(job.group.runs[0]!), reuse: job.reuse } satisfies WorkerTask)) as SharedGuest;
        } catch {
          // Each run then generates its own, and reports the error as its own.
          guest = undefined;
        }
        queue.guestReady(job.group, guest, job.reuse);
        continue;
      }
      const r = job.run;
      try {
        onResult((await pool.run({ kind: 'run', run: task(r), guest: job.group.guest } satisfies WorkerTask)) as RunResult);
      } catch (e) {
        onResult({ id: r.id, row: errorRow(r.id, r.index, r.params, `worker failed: ${(e as Error)?.message ?? String(e)}`), ms: 0, failed: true });
      }
      queue.runDone(job.group);
    }
  };
  // The workers' loops first: each takes its first job now and posts it
  // (tinypool posts at once, the worker reads it as soon as its modules are
  // loaded) before this thread's loop, resumed after them, starts a job of
  // its own, which holds this thread, and so the posting of anything, for
  // as long as it runs. Started the other way round, the worker's first
  // guest was posted only when this thread's first guest was done: the
  // worker sat loaded and idle for that long.
  const loops: Promise<void>[] = [];
  for (let w = 0; w < threads.jobs - 1; w++) for (let d = 0; d < WORKER_DEPTH; d++) loops.push(worker(d > 0));
  loops.push(local());
  await Promise.all(loops);
}

function tryGenerate(t: RunTask, reuse: GuestColumns | undefined): SharedGuest | undefined {
  try {
    return generateGuest(t, reuse);
  } catch {
    return undefined;
  }
}

function task(r: SweepRun): RunTask {
  return { id: r.id, index: r.index, params: r.params, target: r.argv[0]!, opts: r.opts };
}

function guestTask(r: SweepRun): Pick<RunTask, 'target' | 'opts'> {
  return { target: r.argv[0]!, opts: r.opts };
}

/** Runs grouped by guest, the costliest group first (ties in the order of their first run). */
function groupByGuest(runs: readonly SweepRun[]): SweepRun[][] {
  const groups = new Map<string, SweepRun[]>();
  for (const r of runs) {
    const g = groups.get(r.guestKey);
    if (g) g.push(r);
    else groups.set(r.guestKey, [r]);
  }
  const cost = (g: readonly SweepRun[]) => g.reduce((c, r) => c + r.cost, g.length > 1 ? g[0]!.guestCost : 0);
  return [...groups.values()].map((g, i) => ({ g, i, c: cost(g) })).sort((a, b) => b.c - a.c || a.i - b.i).map((x) => x.g);
}
