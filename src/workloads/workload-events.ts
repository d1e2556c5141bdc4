import { Observable } from '../util/rx.js';
import type { GuestBatch } from '../events/guest-batch.js';
import { DEFAULT_BATCH_EVENTS, GuestBatchBuilder } from '../events/guest-batch-builder.js';
import type { WorkloadConfig, WorkloadDefinition, WorkloadStats } from './workload.js';

/** Thrown through a workload's loop to stop it once nobody listens. */
const UNSUBSCRIBED = Symbol('unsubscribed');

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
    const builder = new GuestBatchBuilder((b) => {
      if (subscriber.closed) throw UNSUBSCRIBED;
      subscriber.next(b);
    }, batchEvents);
    try {
      const stats = def.generate(config, builder);
      builder.flush();
      onStats?.(stats ?? {});
      subscriber.complete();
    } catch (e) {
      if (e !== UNSUBSCRIBED) subscriber.error(e);
    }
  });
}
