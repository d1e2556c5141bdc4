import { statSync } from 'node:fs';
import { UnknownWorkloadError, WORKLOADS } from '../workloads/registry.js';

/** A built-in workload's name (which wins over a file of that name). */
export function isWorkloadName(target: string): boolean {
  return WORKLOADS.some((w) => w.name === target);
}

/** Refuses a target that is neither a workload nor an existing file, naming both. */
export function checkTraceTarget(target: string): void {
  const file = statSync(target, { throwIfNoEntry: false });
  if (!file) throw new UnknownWorkloadError(`${target}: no such file, and no built-in workload has that name (built in: ${WORKLOADS.map((w) => w.name).join(', ')})`);
}
