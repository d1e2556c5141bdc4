import { existsSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { Subject } from '../util/rx.js';
import type { GuestBatch } from '../events/guest-batch.js';
import { shareGuestBatch } from '../events/shared-guest-batch.js';
import type { TrackerName } from '../reducers/tracker.js';
import { drainSync } from '../util/drain-sync.js';
import { type CompareHooks, type CompareResult, compareResult, compareTrackers } from './compare.js';
import type { CompareWorkerData, CompareWorkerMessage, CompareWorkerReply } from './compare-worker.js';
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

const WORKER_URL = new URL('./compare-worker.js', import.meta.url);

/**
 * Node's options for a worker: this process's, as Worker passes them by
 * default, but for those of a program given as a string (`node
 * --input-type=module -e ...`), which a worker run from a file refuses
 * (ERR_INPUT_TYPE_NOT_ALLOWED), so that a comparison started that way
 * would run in order, on one thread.
 */
export function workerExecArgv(execArgv: readonly string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < execArgv.length; i++) {
    const a = execArgv[i]!;
    if (/^(--input-type|--eval|-e|--print|-p)$/.test(a)) i++;
    else if (!/^(--input-type|--eval|--print)=/.test(a)) out.push(a);
  }
  return out;
}

/**
 * Relative CPU of each tracker's run over a guest, from a cold start (a
 * comparison's threads each compile the simulator anew), in units of a
 * HAP run; and of what else a thread does: generating the guest (the main
 * thread's) and starting a worker (loading and compiling the simulator's
 * modules). Measured on the apache default: generation 0.70 s of CPU,
 * shadow 0.60, hap 0.35, pml 0.25, a worker's start 0.30. They only
 * balance the threads; the results do not depend on them.
 */
const TRACKER_COST: Readonly<Record<TrackerName, number>> = { shadow: 1.7, hap: 1, pml: 0.8, direct: 1.3, 'kvm-wp': 1, 'kvm-pml': 1, 'kvm-ring': 1 };
const GENERATION_COST = 2;
const WORKER_START_COST = 0.9;

/**
 * How many threads a comparison simulates on: one per core but one, and no
 * more than there are trackers. V8 compiles hot code on background threads,
 * and a comparison's code is hot for most of its run: on the apache
 * default (3 trackers, 2 cores) those threads took 48% of the process's
 * CPU, and each simulation thread compiles the simulator anew (a worker
 * also starts node and loads the modules: 0.2 s of CPU). On two cores a
 * worker thus bought nothing but its own cost: the comparison was CPU-bound
 * (1.78x one run's CPU, 1.56x its wall time); one thread over one
 * generation takes 1.35x one run's CPU and 1.39x its wall time (medians of
 * five pairs, under load). The spare core is the compiler's.
 */
export function simulationThreads(trackerCount: number, cores: number): number {
  return Math.max(1, Math.min(trackerCount, cores - 1));
}

/**
 * Which thread runs each tracker: `threads[0]` is this one, which also
 * generates the guest, the others workers. Longest first, each to the
 * thread with the least work so far (a worker on a tie: this thread also
 * hands out the batches).
 */
export function assignTrackers(trackers: readonly TrackerName[], threadCount: number): number[][] {
  const load = Array.from({ length: threadCount }, (_, t) => (t === 0 ? GENERATION_COST : WORKER_START_COST));
  const threads: number[][] = Array.from({ length: threadCount }, () => []);
  const order = trackers.map((_, i) => i).sort((a, b) => TRACKER_COST[trackers[b]!] - TRACKER_COST[trackers[a]!] || a - b);
  for (const run of order) {
    let best = threadCount - 1;
    for (let t = threadCount - 1; t >= 0; t--) if (load[t]! < load[best]!) best = t;
    threads[best]!.push(run);
    load[best]! += TRACKER_COST[trackers[run]!];
  }
  // A worker with nothing to run is not started.
  return [threads[0]!.sort((a, b) => a - b), ...threads.slice(1).filter((t) => t.length > 0).map((t) => t.sort((a, b) => a - b))];
}

/**
 * compareTrackers on every core: the guest's events are generated (or read
 * from the trace) once, on this thread, which runs some trackers over them
 * as they come; each batch is copied once into a shared buffer, and the
 * other trackers run on worker threads over those same batches
 * (src/api/compare-worker.ts), several on one thread when there are more
 * trackers than threads (simulationThreads: one core is left to V8's
 * compiler, so on two cores every tracker runs on this thread, over the
 * one generation). A simulation depends only on the events it is given, so
 * each summary, and the result, is the one compareTrackers returns, byte
 * for byte (test/cli/compare-on-cores.test.ts).
 *
 * `onEach` is called as each tracker finishes, in the order they finish;
 * `onRunBatch` is not offered (run batches stay on their threads: use
 * compareTrackers). When any run fails (a tracker the guest cannot have,
 * say), the comparison is run again in order on this thread, so the error
 * is the very one compareTrackers throws. Where no built worker module
 * exists (the sources run without a build, as under vitest), every
 * tracker runs on this thread.
 */
export async function compareTrackersOnCores(
  source: GuestSource,
  trackers: readonly TrackerName[],
  opts: Omit<MigrationRunOptions, 'tracker'>,
  hooks: Pick<CompareHooks, 'onEach'> = {},
  cores = availableParallelism(),
): Promise<CompareResult> {
  if (trackers.length < 2) return compareTrackers(source, trackers, opts, hooks);
  let threadCount = simulationThreads(trackers.length, cores);
  if (threadCount > 1 && !existsSync(fileURLToPath(WORKER_URL))) threadCount = 1;
  const [mine, ...theirs] = threadCount === 1 ? [trackers.map((_, run) => run)] : assignTrackers(trackers, threadCount);
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
  const n = theirs.length;
  // Slots 0..n-1: batches each worker has folded; slot n: a worker failed.
  const progress = new Int32Array(new SharedArrayBuffer(4 * (n + 1)));
  const workers = theirs.map((runs, index) => {
    const workerData: CompareWorkerData = { index, header, runs: runs.map((run) => ({ run, options: { ...opts, tracker: trackers[run]! } })), progress };
    return new Worker(WORKER_URL, { workerData, execArgv: workerExecArgv(process.execArgv) });
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
