import { parentPort } from 'node:worker_threads';
import type { MigrationRunOptions, MigrationSummary } from './run-migration.js';
import type { TraceHeader } from '../trace/trace-records.js';
import type { SharedGuestBatch } from '../events/shared-guest-batch.js';
import type { GuestBatch } from '../events/guest-batch.js';

/**
 * Some trackers of a comparison on a thread of their own
 * (src/api/compare-on-cores.ts): it receives the guest batches the main
 * thread generated or decoded once, in shared buffers, runs the same pipe
 * as runMigration over them for each of its trackers, batch by batch, and
 * posts each summary. One thread runs several trackers so that a
 * comparison starts no more threads than there are cores: each thread
 * loads and compiles the simulator anew. After each batch it advances its
 * slot of `progress`, which the main thread reads to stay at most a few
 * batches ahead; on any failure it raises `progress`'s last slot, so a main
 * thread waiting on it stops at once (it cannot see this thread's messages
 * while it waits).
 *
 * The thread may be started before the comparison is known
 * (startCompareWorkers, src/api/compare-threads.ts): it loads the
 * simulator's modules at once, and only then reads its messages, the
 * first of which is its setup (messages wait in the port until then).
 */
export interface CompareWorkerSetup {
  readonly type: 'setup';
  readonly index: number;
  readonly header: TraceHeader;
  /** This thread's runs: each its place in the comparison and its options. */
  readonly runs: readonly { readonly run: number; readonly options: MigrationRunOptions }[];
  /** One Int32 slot per worker (batches done), then the failure flag. */
  readonly progress: Int32Array;
}

export type CompareWorkerMessage = CompareWorkerSetup | { readonly type: 'batch'; readonly batch: SharedGuestBatch } | { readonly type: 'end' };
export type CompareWorkerReply = { readonly type: 'summary'; readonly run: number; readonly summary: MigrationSummary } | { readonly type: 'failed'; readonly message: string };

const port = parentPort!;

function fail(setup: CompareWorkerSetup | undefined, e: unknown): void {
  if (setup) {
    const { progress, index } = setup;
    Atomics.store(progress, progress.length - 1, 1);
    Atomics.notify(progress, progress.length - 1);
    Atomics.notify(progress, index);
  }
  port.postMessage({ type: 'failed', message: String((e as Error)?.stack ?? e) } satisfies CompareWorkerReply);
  port.close();
}

// Loaded with a promise, not a top-level await: the bundle (dist/cli) is
// CommonJS for its code cache (src/cli/code-cache.cts), which has none.
Promise.all([import('../util/rx.js'), import('./run-migration.js'), import('../events/shared-guest-batch.js')]).then(
  ([{ Subject }, { migrate, summarizeMigration }, { guestBatchOfShared }]) => serve({ Subject, migrate, summarizeMigration, guestBatchOfShared }),
  // Told on the setup message, when there is a flag to raise.
  (e: unknown) => port.once('message', (m: CompareWorkerMessage) => fail(m.type === 'setup' ? m : undefined, e)),
);

interface WorkerModules {
  readonly Subject: typeof import('../util/rx.js').Subject;
  readonly migrate: typeof import('./run-migration.js').migrate;
  readonly summarizeMigration: typeof import('./run-migration.js').summarizeMigration;
  readonly guestBatchOfShared: typeof import('../events/shared-guest-batch.js').guestBatchOfShared;
}

/** Runs this thread's trackers over the batches it is sent. */
function serve({ Subject, migrate, summarizeMigration, guestBatchOfShared }: WorkerModules): void {
  let setup: CompareWorkerSetup | undefined;
  let failed = false;
  let guests: import('../util/rx.js').Subject<GuestBatch>[] = [];
  const start = (s: CompareWorkerSetup) => {
    setup = s;
    guests = s.runs.map(({ run, options }) => {
      const guest = new Subject<GuestBatch>();
      let summary: MigrationSummary | undefined;
      guest.pipe(migrate(s.header, options), summarizeMigration(s.header, options)).subscribe({
        next: (x) => (summary = x),
        error: (e) => {
          if (failed) return;
          failed = true;
          fail(setup, e);
        },
        complete: () => port.postMessage({ type: 'summary', run, summary: summary! } satisfies CompareWorkerReply),
      });
      return guest;
    });
  };
  port.on('message', (m: CompareWorkerMessage) => {
    if (failed) return;
    try {
      if (m.type === 'setup') start(m);
      else if (m.type === 'batch') {
        const batch = guestBatchOfShared(m.batch);
        for (const g of guests) if (!failed) g.next(batch);
        Atomics.add(setup!.progress, setup!.index, 1);
        Atomics.notify(setup!.progress, setup!.index);
      } else {
        for (const g of guests) if (!failed) g.complete();
        port.close();
      }
    } catch (e) {
      failed = true;
      fail(setup, e);
    }
  });
}
