import { apache } from './apache.js';
import { boot } from './boot.js';
import { hotSet } from './hot-set.js';
import { idle } from './idle.js';
import { muncher } from './muncher.js';
import type { WorkloadDefinition } from './workload.js';

/** Every built-in workload, by name. */
export const WORKLOADS: readonly WorkloadDefinition[] = [hotSet, boot, apache, muncher, idle];

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
