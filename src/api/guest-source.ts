import { existsSync } from 'node:fs';
import type { Observable } from 'rxjs';
import type { GuestBatch } from '../events/guest-batch.js';
import { TraceReader } from '../trace/trace-reader.js';
import type { TraceHeader } from '../trace/trace-records.js';
import { findWorkload, WORKLOADS } from '../workloads/registry.js';
import { workloadEvents } from '../workloads/workload-events.js';
import { readGuestBatches } from './read.js';
import { configFromHeader, type RecordOptions, workloadHeader } from './record.js';

/** Where a run's guest events come from: a recorded trace, or a workload generated on the fly. */
export interface GuestSource {
  readonly header: TraceHeader;
  readonly label: string;
  events(): Observable<GuestBatch>;
}

export type WorkloadRequest = Omit<RecordOptions, 'out'>;

/**
 * `run` and `compare` take a trace file or a workload name: a name of a
 * built-in workload wins, then an existing file.
 */
export function guestSource(target: string, workload: Omit<WorkloadRequest, 'workload'>): GuestSource {
  if (WORKLOADS.some((w) => w.name === target) || !existsSync(target)) {
    const header = workloadHeader({ ...workload, workload: target });
    const def = findWorkload(header.workload.name);
    return { header, label: target, events: () => workloadEvents(def, configFromHeader(header), undefined, header.chunkEvents) };
  }
  const reader = TraceReader.open(target);
  const header = reader.header;
  reader.close();
  return { header, label: target, events: () => readGuestBatches(target) };
}
