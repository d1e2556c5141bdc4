import { findWorkload } from '../workloads/registry.js';
import { workloadEvents } from '../workloads/workload-events.js';
import type { GuestSource, WorkloadRequest } from './guest-source.js';
import { configFromHeader, workloadHeader } from './workload-header.js';

/** A built-in workload's guest events, generated on each subscription (no trace codec loaded). */
export function workloadSource(name: string, workload: Omit<WorkloadRequest, 'workload'>): GuestSource {
  const header = workloadHeader({ ...workload, workload: name });
  const def = findWorkload(header.workload.name);
  return { header, label: name, events: () => workloadEvents(def, configFromHeader(header), undefined, header.chunkEvents) };
}
