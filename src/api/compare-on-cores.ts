import { availableParallelism } from 'node:os';
import type { Worker } from 'node:worker_threads';
import { Subject } from '../util/rx.js';
import type { GuestBatch } from '../events/guest-batch.js';
import { shareGuestBatch } from '../events/shared-guest-batch.js';
import type { TrackerName } from '../reducers/tracker.js';
import { drainSync } from '../util/drain-sync.js';
import { type CompareHooks, type CompareResult, compareResult, compareTrackers } from './compare.js';
import type { CompareWorkerMessage, CompareWorkerReply } from './compare-worker.js';
import { compareThreadPlan, startCompareWorkers } from './compare-threads.js';
import { DEFAULT_COSTS } from '../model/cost-model.js';
import type { GuestSource } from './guest-source.js';
import { type MigrationRunOptions, type MigrationSummary, migrate, summarizeMigration } from './run-migration.js';

/**
 * How many batches the main thread may run ahead of the slowest tracker:
 * enough to keep every worker busy (and to go on while a worker loads its
 * modules), few enough that the guest's events are never all in memory at
 * once (a batch is at most 65,536 events, 19 bytes each), and that the
 * shared buffers are reused soon: a batch's buffer takes a later batch once
 * every worker is past it.
 */
const BATCHES_AHEAD = 8;

/**
 * Where a comparison's trackers run: `plan[0]` the runs (indices into the
 * trackers) on the main thread, each later entry a worker's; and workers
 * already started for it (startCompareWorkers), one per later entry, which
 * it takes over (it starts any missing, and ends any over). A number is the
 * cores, for the default plan (compareThreadPlan).
 */
export interface CompareThreads {
  readonly plan: readonly (readonly number[])[];
  readonly workers?: readonly Worker[];
}

/**
 * compareTrackers on every core: the guest's events are generated (or read
 * from the trace) once, on this thread, which runs some trackers over them
 * as they come; each batch is copied once into a shared buffer as soon as
 * it is generated, and the other trackers run on worker threads over those
 * same batches (src/api/compare-worker.ts), several on one thread when
 * there are more trackers than threads. The plan (compareThreadPlan, or
 * the caller's) only decides where each run goes: a simulation depends only
 * on the events it is given, so each summary, and the result, is the one
 * compareTrackers returns, byte for byte, whatever the plan
 * (test/cli/compare-on-cores.test.ts).
 *
 * `onEach` is called as each tracker finishes, in the order they finish;
 * `onRunBatch` is not offered (run batches stay on their threads: use
 * compareTrackers). When any run fails (a tracker the guest cannot have,
 * say), the comparison is run again in order on this thread, so the error
 * is the very one compareTrackers throws.
 */
export async function compareTrackersOnCores(
  source: GuestSource,
  trackers: readonly TrackerName[],
  opts: Omit<MigrationRunOptions, 'tracker'>,
  hooks: Pick<CompareHooks, 'onEach'> = {},
  threads: number | CompareThreads = availableParallelism(),
): Promise<CompareResult> {
  const { plan, workers: started = [] } = typeof threads === 'number' ? { plan: compareThreadPlan(trackers, threads) } : threads;
  if (trackers.length < 2 || plan.length < 2) {
    for (const w of started) void w.terminate();
    return compareTrackers(source, trackers, opts, hooks);
  }
  checkPlan(plan, trackers.length);
  const [mine, ...theirs] = plan;
  const n = theirs.length;
  for (const w of started.slice(n)) void w.terminate();
  const workers = [...started.slice(0, n), ...startCompareWorkers(n - started.length)];
  if (workers.length < n || workers.some((w) => w.threadId < 0)) {
    // No built worker module (the sources run unbuilt, as under vitest), or
    // a worker that has already failed: all here, in order.
    for (const w of workers) void w.terminate();
    return compareTrackers(source, trackers, opts, hooks);
  }
  const header = source.header;
  const summaries: (MigrationSummary | undefined)[] = trackers.map(() => undefined);
  let localFailed = false;
  // This thread's trackers run beside the source, on the batches as they
  // come (no copy, and no thread to start nor code to load for them).
  const locals = mine!.map((run) => {
    const local = new Subject<GuestBatch>();
    const options = { ...opts, tracker: trackers[run]! };
    local.pipe(migrate(header, options), summarizeMigration(header, options)).subscribe({
      next: (s) => (summaries[run] = s),
      error: () => (localFailed = true),
    });
    return local;
  });
  // Slots 0..n-1: batches each worker has folded; slot n: a worker failed.
  const progress = new Int32Array(new SharedArrayBuffer(4 * (n + 1)));
  workers.forEach((w, index) => {
    w.ref();
    const runs = theirs[index]!.map((run) => ({ run, options: { ...opts, tracker: trackers[run]! } }));
    w.postMessage({ type: 'setup', index, header, runs, progress } satisfies CompareWorkerMessage);
  });
  const replies = workers.map(
    (w, i) =>
      new Promise<boolean>((resolve) => {
        let waiting = theirs[i]!.length;
        let settled = false;
        const settle = (ok: boolean) => {
          if (settled) return;
          settled = true;
          resolve(ok);
        };
        w.on('message', (m: CompareWorkerReply) => {
          if (m.type !== 'summary') return settle(false);
          summaries[m.run] = m.summary;
          hooks.onEach?.(trackers[m.run]!, m.summary, m.run);
          if (--waiting === 0) settle(true);
        });
        w.on('error', () => settle(false));
        w.on('exit', () => settle(false));
        // Already gone (it failed before this comparison took it): its exit was before these listeners.
        if (w.threadId < 0) settle(false);
      }),
  );
  let posted = 0;
  const failed = () => localFailed || Atomics.load(progress, n) !== 0;
  // Buffers of posted batches, oldest first, and those every worker is done with.
  const inFlight: SharedArrayBuffer[] = [];
  const free: SharedArrayBuffer[] = [];
  let released = 0;
  const release = () => {
    let done = posted;
    for (let i = 0; i < n; i++) done = Math.min(done, Atomics.load(progress, i));
    for (; released < done; released++) free.push(inFlight.shift()!);
  };
  try {
    drainSync(source.events(), (batch) => {
      if (failed()) throw new WorkerFailed();
      if (n > 0) {
        release();
        const shared = shareGuestBatch(batch, free.pop());
        inFlight.push(shared.buffer);
        const message: CompareWorkerMessage = { type: 'batch', batch: shared };
        for (const w of workers) w.postMessage(message);
        posted++;
      }
      for (const local of locals) if (!localFailed) local.next(batch);
      // Wait (blocking: the source is synchronous) while any worker is too far behind.
      for (let i = 0; i < n; i++) {
        for (let done = Atomics.load(progress, i); posted - done > BATCHES_AHEAD; done = Atomics.load(progress, i)) {
          if (failed()) throw new WorkerFailed();
          Atomics.wait(progress, i, done, 50);
        }
      }
    });
  } catch {
    await Promise.all(workers.map((w) => w.terminate()));
    // The source's own error (a workload's, a corrupt trace's) or a
    // worker's: run in order here, which throws the error compareTrackers
    // throws, whichever of the two it meets first.
    return compareTrackers(source, trackers, opts);
  }
  for (const w of workers) w.postMessage({ type: 'end' } satisfies CompareWorkerMessage);
  for (const local of locals) if (!localFailed) local.complete();
  if (!localFailed) for (const run of mine!) hooks.onEach?.(trackers[run]!, summaries[run]!, run);
  const ok = await Promise.all(replies);
  await Promise.all(workers.map((w) => w.terminate()));
  if (localFailed || ok.includes(false) || summaries.some((s) => s === undefined)) return compareTrackers(source, trackers, opts);
  return compareResult(summaries as MigrationSummary[], (opts.costs ?? DEFAULT_COSTS).pageHeaderBytes);
}

class WorkerFailed extends Error {}

/** Every run in exactly one thread's list. */
function checkPlan(plan: readonly (readonly number[])[], runs: number): void {
  const seen = plan.flat().sort((a, b) => a - b);
  if (seen.length !== runs || seen.some((run, i) => run !== i)) throw new Error(`compareTrackersOnCores: the plan ${JSON.stringify(plan)} does not run each of the ${runs} trackers once`);
}
