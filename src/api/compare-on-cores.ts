import { existsSync } from 'node:fs';
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
 * enough to keep every worker busy, few enough that the guest's events are
 * never all in memory at once (a batch is at most 65,536 events, 19 bytes
 * each).
 */
const BATCHES_AHEAD = 16;

const WORKER_URL = new URL('./compare-worker.js', import.meta.url);

/**
 * compareTrackers on every core: the guest's events are generated (or read
 * from the trace) once, on this thread, which runs the first tracker over
 * them as they come; each batch is copied once into a shared buffer, and
 * every other tracker runs on a worker thread of its own over those same
 * batches (src/api/compare-worker.ts). A simulation depends only
 * on the events it is given, so each summary, and the result, is the one
 * compareTrackers returns, byte for byte (test/api/compare-on-cores.test.ts).
 *
 * `onEach` is called as each tracker finishes, in the order they finish;
 * `onRunBatch` is not offered (run batches stay on their threads: use
 * compareTrackers). When any run fails (a tracker the guest cannot have,
 * say), the comparison is run again in order on this thread, so the error
 * is the very one compareTrackers throws; so it is, too, where no built
 * worker module exists (the sources run without a build, as under vitest).
 */
export async function compareTrackersOnCores(
  source: GuestSource,
  trackers: readonly TrackerName[],
  opts: Omit<MigrationRunOptions, 'tracker'>,
  hooks: Pick<CompareHooks, 'onEach'> = {},
): Promise<CompareResult> {
  if (trackers.length < 2 || !existsSync(fileURLToPath(WORKER_URL))) return compareTrackers(source, trackers, opts, hooks);
  // The first tracker runs here, beside the source, on the batches as they
  // come (no copy, and no thread to start nor code to load for it); the
  // others each on a worker.
  const header = source.header;
  const local = new Subject<GuestBatch>();
  let localSummary: MigrationSummary | undefined;
  let localFailed = false;
  local.pipe(migrate(header, { ...opts, tracker: trackers[0]! }), summarizeMigration(header, { ...opts, tracker: trackers[0]! })).subscribe({
    next: (s) => (localSummary = s),
    error: () => (localFailed = true),
  });
  const n = trackers.length - 1;
  // Slots 0..n-1: batches each worker has folded; slot n: a worker failed.
  const progress = new Int32Array(new SharedArrayBuffer(4 * (n + 1)));
  const workers = trackers.slice(1).map((tracker, index) => {
    const workerData: CompareWorkerData = { index, header, options: { ...opts, tracker }, progress };
    return new Worker(WORKER_URL, { workerData });
  });
  const replies = workers.map(
    (w, i) =>
      new Promise<MigrationSummary | undefined>((resolve) => {
        let settled = false;
        const settle = (s: MigrationSummary | undefined) => {
          if (settled) return;
          settled = true;
          if (s) hooks.onEach?.(trackers[i + 1]!, s, i + 1);
          resolve(s);
        };
        w.on('message', (m: CompareWorkerReply) => settle(m.type === 'summary' ? m.summary : undefined));
        w.on('error', () => settle(undefined));
        w.on('exit', () => settle(undefined));
      }),
  );
  let posted = 0;
  const failed = () => localFailed || Atomics.load(progress, n) !== 0;
  try {
    drainSync(source.events(), (batch) => {
      if (failed()) throw new WorkerFailed();
      const message: CompareWorkerMessage = { type: 'batch', batch: shareGuestBatch(batch) };
      for (const w of workers) w.postMessage(message);
      posted++;
      local.next(batch);
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
  local.complete();
  if (localSummary) hooks.onEach?.(trackers[0]!, localSummary, 0);
  const summaries = [localFailed ? undefined : localSummary, ...(await Promise.all(replies))];
  await Promise.all(workers.map((w) => w.terminate()));
  if (summaries.some((s) => s === undefined)) return compareTrackers(source, trackers, opts);
  return compareResult(summaries as MigrationSummary[], (opts.costs ?? DEFAULT_COSTS).pageHeaderBytes);
}

class WorkerFailed extends Error {}
