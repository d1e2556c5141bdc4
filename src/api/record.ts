import { drainSync } from '../util/drain-sync.js';
import type { ColumnEncoding } from '../trace/column-codec.js';
import type { TraceFooter, TraceHeader } from '../trace/trace-records.js';
import { configFromHeader, workloadHeader } from './workload-header.js';
import { TraceWriter } from '../trace/trace-writer.js';
import type { WorkloadStats } from '../workloads/workload.js';
import { findWorkload } from '../workloads/registry.js';
import { workloadEvents } from '../workloads/workload-events.js';
import type { GuestOptions } from '../model/guest-config.js';

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

// Where they were first defined; the CLI imports them without the trace writer.
export { configFromHeader, workloadHeader };

export interface RecordResult {
  readonly header: TraceHeader;
  readonly footer: TraceFooter;
  readonly fileBytes: number;
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
