import { DEFAULT_BATCH_EVENTS } from '../events/guest-batch-builder.js';
import { PROGRAM_NAME, PROGRAM_VERSION } from '../version.js';
import { type ColumnEncoding, DEFAULT_ENCODING } from './column-codec.js';
import { TRACE_FORMAT, TRACE_VERSION, type GuestSpec, type TraceHeader, type WorkloadSpec } from './trace-records.js';

/**
 * The header of a workload trace written by this program: a built-in
 * workload's (src/api/record.ts) or an imported capture's, which adds its
 * `source`.
 */
export function workloadTraceHeader(
  guest: GuestSpec,
  workload: WorkloadSpec,
  opts: { readonly encoding?: ColumnEncoding; readonly chunkEvents?: number; readonly source?: Readonly<Record<string, unknown>> } = {},
): TraceHeader {
  return {
    type: 'header',
    format: TRACE_FORMAT,
    version: TRACE_VERSION,
    program: { name: PROGRAM_NAME, version: PROGRAM_VERSION },
    traceKind: 'workload',
    encoding: opts.encoding ?? DEFAULT_ENCODING,
    chunkEvents: opts.chunkEvents ?? DEFAULT_BATCH_EVENTS,
    guest,
    workload,
    ...(opts.source ? { source: opts.source } : {}),
  };
}
