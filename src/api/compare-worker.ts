import { parentPort, workerData } from 'node:worker_threads';
import type { MigrationRunOptions, MigrationSummary } from './run-migration.js';
import type { TraceHeader } from '../trace/trace-records.js';
import type { SharedGuestBatch } from '../events/shared-guest-batch.js';

/**
 * Some trackers of a comparison on a thread of their own
 * (src/api/compare-on-cores.ts): it receives the guest batches the main
 * thread generated or decoded once, in shared buffers, runs the same pipe
 * as runMigration over them for each of its trackers, batch by batch, and
 * posts each summary. One thread runs several trackers so that a
 * comparison starts no more threads than there are cores: each thread
 * loads and compiles the simulator anew, and on two cores a third thread
 * only adds that cost. After each batch it advances its slot of
 * `progress`, which the main thread reads to stay at most a few batches
 * ahead; on any failure it raises `progress`'s last slot, so a main thread
 * waiting on it stops at once (it cannot see this thread's messages while
 * it waits).
 */
export interface CompareWorkerData {
  readonly index: number;
  readonly header: TraceHeader;
  /** This thread's runs: each its place in the comparison and its options. */
  readonly runs: readonly { readonly run: number; readonly options: MigrationRunOptions }[];
  /** One Int32 slot per worker (batches done), then the failure flag. */
  readonly progress: Int32Array;
}

export type CompareWorkerMessage = { readonly type: 'batch'; readonly batch: SharedGuestBatch } | { readonly type: 'end' };
export type CompareWorkerReply = { readonly type: 'summary'; readonly run: number; readonly summary: MigrationSummary } | { readonly type: 'failed'; readonly message: string };

const data = workerData as CompareWorkerData;
const port = parentPort!;

function fail(e: unknown): void {
  Atomics.store(data.progress, data.progress.length - 1, 1);
  Atomics.notify(data.progress, data.progress.length - 1);
  Atomics.notify(data.progress, data.index);
  port.postMessage({ type: 'failed', message: String((e as Error)?.stack ?? e) } satisfies CompareWorkerReply);
}

try {
  const [{ Subject }, { migrate, summarizeMigration }, { guestBatchOfShared }] = await Promise.all([import('../util/rx.js'), import('./run-migration.js'), import('../events/shared-guest-batch.js')]);
  const { header, runs, index, progress } = data;
  let failed = false;
  const guests = runs.map(({ run, options }) => {
    const guest = new Subject<import('../events/guest-batch.js').GuestBatch>();
    let summary: MigrationSummary | undefined;
    guest.pipe(migrate(header, options), summarizeMigration(header, options)).subscribe({
      next: (s) => (summary = s),
      error: (e) => {
        if (failed) return;
        failed = true;
        fail(e);
      },
      complete: () => port.postMessage({ type: 'summary', run, summary: summary! } satisfies CompareWorkerReply),
    });
    return guest;
  });
  port.on('message', (m: CompareWorkerMessage) => {
    if (failed) return;
    try {
      if (m.type === 'batch') {
        const batch = guestBatchOfShared(m.batch);
        for (const g of guests) if (!failed) g.next(batch);
        Atomics.add(progress, index, 1);
        Atomics.notify(progress, index);
      } else {
        for (const g of guests) if (!failed) g.complete();
        port.close();
      }
    } catch (e) {
      failed = true;
      fail(e);
      port.close();
    }
  });
} catch (e) {
  fail(e);
}
