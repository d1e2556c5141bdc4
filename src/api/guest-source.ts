import type { Observable } from '../util/rx.js';
import type { GuestBatch } from '../events/guest-batch.js';
import type { TraceHeader } from '../trace/trace-records.js';
import { checkTraceTarget, isWorkloadName } from './guest-target.js';
import type { RecordOptions } from './record.js';
import { traceSource } from './trace-source.js';
import { workloadSource } from './workload-source.js';

/** Where a run's guest events come from: a recorded trace, or a workload generated on the fly. */
export interface GuestSource {
  readonly header: TraceHeader;
  readonly label: string;
  events(): Observable<GuestBatch>;
}

export type WorkloadRequest = Omit<RecordOptions, 'out'>;

/**
 * `run` and `compare` take a trace file or a workload name: a name of a
 * built-in workload wins, then an existing file. Neither is a mistake of
 * one or the other ('nonexist.mst', 'apach'): the error says both.
 */
export function guestSource(target: string, workload: Omit<WorkloadRequest, 'workload'>): GuestSource {
  if (isWorkloadName(target)) return workloadSource(target, workload);
  checkTraceTarget(target);
  return traceSource(target);
}
