import { drainSync } from '../util/drain-sync.js';
import type { ColumnEncoding } from '../trace/column-codec.js';
import type { TraceFooter, TraceHeader } from '../trace/trace-records.js';
import { workloadTraceHeader } from '../trace/workload-trace-header.js';
import { TraceWriter } from '../trace/trace-writer.js';
import { findWorkload } from '../workloads/registry.js';
import { resolveParams } from '../workloads/resolve-params.js';
import type { WorkloadConfig, WorkloadStats } from '../workloads/workload.js';
import { workloadEvents } from '../workloads/workload-events.js';
import { DEFAULT_DURATION_NS, DEFAULT_GUEST, type GuestOptions, guestMemPages } from '../model/guest-config.js';

export interface RecordOptions extends Partial<GuestOptions> {
  readonly workload: string;
  readonly seed: number;
  readonly out: string;
  readonly durationNs?: number;
  /** `--set key=value` pairs, unparsed or already numbers. */
  readonly settings?: Readonly<Record<string, string | number>>;
  readonly encoding?: ColumnEncoding;
  readonly chunkEvents?: number;
}

export interface RecordResult {
  readonly header: TraceHeader;
  readonly footer: TraceFooter;
  readonly fileBytes: number;
}


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

/**
 * Runs a built-in workload and records its guest events to a trace, batch
 * by batch as they are generated. The file appears only when complete.
 */
export function record(opts: RecordOptions, onProgress?: (events: number, tNs: number) => void): RecordResult {
  const header = workloadHeader(opts);
  const def = findWorkload(header.workload.name);
  const writer = new TraceWriter(opts.out, header);
  let stats: WorkloadStats = {};
  let events = 0;
  try {
    drainSync(workloadEvents(def, configFromHeader(header), (s) => (stats = s), header.chunkEvents), (b) => {
      writer.writeGuestBatch(b);
      events += b.count;
      onProgress?.(events, b.endNs);
    });
    const footer = writer.finish({ workloadStats: stats });
    return { header, footer, fileBytes: writer.fileBytes };
  } catch (e) {
    writer.abort();
    throw e;
  }
}
