import { hotSet } from './hot-set.js';
import type { WorkloadDefinition } from './workload.js';

/** Every built-in workload, by name. */
export const WORKLOADS: readonly WorkloadDefinition[] = [hotSet];

export class UnknownWorkloadError extends Error {
  override readonly name = 'UnknownWorkloadError';
}

export function findWorkload(name: string): WorkloadDefinition {
  const def = WORKLOADS.find((w) => w.name === name);
  if (!def) {
    throw new UnknownWorkloadError(`unknown workload '${name}' (built in: ${WORKLOADS.map((w) => w.name).join(', ')})`);
  }
  return def;
}
