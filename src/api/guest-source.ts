import { statSync } from 'node:fs';
import type { Observable } from 'rxjs';
import type { GuestBatch } from '../events/guest-batch.js';
import { TraceError } from '../trace/trace-error.js';
import { TraceReader } from '../trace/trace-reader.js';
import type { TraceHeader } from '../trace/trace-records.js';
import { findWorkload, UnknownWorkloadError, WORKLOADS } from '../workloads/registry.js';
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
 * built-in workload wins, then an existing file. Neither is a mistake of
 * one or the other ('nonexist.mst', 'apach'): the error says both.
 */
export function guestSource(target: string, workload: Omit<WorkloadRequest, 'workload'>): GuestSource {
  if (WORKLOADS.some((w) => w.name === target)) {
    const header = workloadHeader({ ...workload, workload: target });
    const def = findWorkload(header.workload.name);
    return { header, label: target, events: () => workloadEvents(def, configFromHeader(header), undefined, header.chunkEvents) };
  }
  const file = statSync(target, { throwIfNoEntry: false });
  if (!file) throw new UnknownWorkloadError(`${target}: no such file, and no built-in workload has that name (built in: ${WORKLOADS.map((w) => w.name).join(', ')})`);
  // A directory opens, and only its first read fails, with no path.
  if (file.isDirectory()) throw new TraceError(target, 'is a directory, not a trace file');
  const reader = TraceReader.open(target);
  const header = reader.header;
  reader.close();
  return { header, label: target, events: () => readGuestBatches(target) };
}
