import { ConfigError, guestMemPages, PAGE_BYTES } from '../model/guest-config.js';
import { MAX_CHUNK_EVENTS } from './chunk-check.js';
import type { TraceHeader } from './trace-records.js';

/** A header value the model cannot run: the field, and why. */
export interface HeaderProblem {
  readonly field: string;
  readonly problem: string;
}

/**
 * What the header's schema (src/trace/trace-schemas.ts) cannot see: values
 * of the right type but beyond the model's limits, the same limits
 * `record` and `run` apply to their options (src/model/guest-config.ts),
 * and a trace kind that disagrees with what the header holds. Undefined
 * when the header describes a guest migsim can simulate.
 */
export function headerProblem(h: TraceHeader): HeaderProblem | undefined {
  const g = h.guest;
  try {
    guestMemPages({ memBytes: g.memPages * PAGE_BYTES, vcpus: g.vcpus, guest: g.type, paging: g.paging });
  } catch (e) {
    if (e instanceof ConfigError) return { field: 'guest', problem: `${e.message} (memPages ${g.memPages}, vcpus ${g.vcpus})` };
    throw e;
  }
  if (h.chunkEvents > MAX_CHUNK_EVENTS) return { field: 'chunkEvents', problem: `${h.chunkEvents} events a chunk, more than the ${MAX_CHUNK_EVENTS} a chunk may hold` };
  if (h.traceKind === 'run' && h.run === undefined) return { field: 'traceKind', problem: "'run', but the header has no run (tracker, policy, cost model)" };
  if (h.traceKind === 'workload' && h.run !== undefined) return { field: 'traceKind', problem: "'workload', but the header has a run (tracker, policy, cost model)" };
  return undefined;
}
