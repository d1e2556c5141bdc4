import { Observable } from 'rxjs';
import type { GuestBatch } from '../events/guest-batch.js';
import { DEFAULT_BATCH_EVENTS, GuestBatchBuilder } from '../events/guest-batch-builder.js';
import type { WorkloadConfig, WorkloadDefinition, WorkloadStats } from './workload.js';

/**
 * The workload as an RxJS source: one emission per batch of events, emitted
 * synchronously on subscribe. `onStats` receives what the workload reports
 * about itself (processes forked, exited...) once it has finished.
 */
export function workloadEvents(
  def: WorkloadDefinition,
  config: WorkloadConfig,
  onStats?: (stats: WorkloadStats) => void,
  batchEvents = DEFAULT_BATCH_EVENTS,
): Observable<GuestBatch> {
  return new Observable<GuestBatch>((subscriber) => {
    const builder = new GuestBatchBuilder((b) => subscriber.next(b), batchEvents);
    const stats = def.generate(config, builder);
    builder.flush();
    onStats?.(stats ?? {});
    subscriber.complete();
  });
}
