import type { TraceHeader } from '../trace/trace-records.js';
import { workloadTraceHeader } from '../trace/workload-trace-header.js';
import { findWorkload } from '../workloads/registry.js';
import { resolveParams } from '../workloads/resolve-params.js';
import type { WorkloadConfig } from '../workloads/workload.js';
import { DEFAULT_DURATION_NS, DEFAULT_GUEST, type GuestOptions, guestMemPages } from '../model/guest-config.js';
import type { RecordOptions } from './record.js';

/** Resolves the workload, parameters and guest into the header a trace will carry. */
export function workloadHeader(opts: Omit<RecordOptions, 'out'>): TraceHeader {
  const def = findWorkload(opts.workload);
  const guest: GuestOptions = {
    memBytes: opts.memBytes ?? DEFAULT_GUEST.memBytes,
    vcpus: opts.vcpus ?? DEFAULT_GUEST.vcpus,
    guest: opts.guest ?? DEFAULT_GUEST.guest,
    paging: opts.paging ?? DEFAULT_GUEST.paging,
  };
  const memPages = guestMemPages(guest);
  const params = resolveParams(def, opts.settings ?? {});
  return workloadTraceHeader(
    { type: guest.guest, paging: guest.paging, memPages, vcpus: guest.vcpus },
    { name: def.name, seed: opts.seed, durationNs: opts.durationNs ?? DEFAULT_DURATION_NS, params },
    { encoding: opts.encoding, chunkEvents: opts.chunkEvents },
  );
}

/** The workload configuration a header describes (for regeneration). */
export function configFromHeader(h: TraceHeader): WorkloadConfig {
  return {
    seed: h.workload.seed,
    durationNs: h.workload.durationNs,
    memPages: h.guest.memPages,
    vcpus: h.guest.vcpus,
    guest: h.guest.type,
    paging: h.guest.paging,
    params: h.workload.params,
  };
}
