import type { GuestType, PagingMode } from '../model/paging.js';
import type { ColumnEncoding, EncodedColumn } from './column-codec.js';
import type { TraceStream } from './column-specs.js';

export const TRACE_FORMAT = 'migsim-trace';
/**
 * The version this migsim writes. 3: compact columns of byte residuals
 * through Zstandard level 3, each recording its predictor and byte width
 * (src/trace/byte-residual-codec.ts; issue 16 item 3). 2: packed columns
 * (src/trace/packed-codec.ts) and the footer's fileDigest, checked instead
 * of re-hashing the decoded events (kept by version 3). Version 1 traces
 * (varint and Brotli columns, the decoded digest only) and version 2
 * traces are still read, as they were; test/fixtures/trace-v1 and
 * trace-v2 hold one of each.
 */
export const TRACE_VERSION = 3;
export const READABLE_TRACE_VERSIONS: readonly number[] = [1, 2, 3];

/** What guest the events are for (the MMU and trackers need it). */
export interface GuestSpec {
  readonly type: GuestType;
  readonly paging: PagingMode;
  readonly memPages: number;
  readonly vcpus: number;
}

/** How to regenerate the guest events: a built-in workload, its parameters and seed. */
export interface WorkloadSpec {
  readonly name: string;
  readonly seed: number;
  readonly durationNs: number;
  readonly params: Readonly<Record<string, number | string>>;
}

export interface TraceHeader {
  readonly type: 'header';
  readonly format: typeof TRACE_FORMAT;
  readonly version: number;
  readonly program: { readonly name: string; readonly version: string };
  /** 'workload': guest events only; 'run': guest and run events. */
  readonly traceKind: 'workload' | 'run';
  readonly encoding: ColumnEncoding;
  readonly chunkEvents: number;
  readonly guest: GuestSpec;
  readonly workload: WorkloadSpec;
  /** Where imported events came from (file name, digest, capture header). */
  readonly source?: Readonly<Record<string, unknown>>;
  /** For run traces: tracker, policy and cost model. */
  readonly run?: Readonly<Record<string, unknown>>;
}

export interface ChunkRecord {
  readonly type: 'chunk';
  readonly seq: number;
  readonly stream: TraceStream;
  readonly count: number;
  /** Time of the event before the chunk's first, and of its last. */
  readonly baseNs: number;
  readonly endNs: number;
  readonly cols: readonly EncodedColumn[];
}

export interface TraceFooter {
  readonly type: 'footer';
  readonly chunks: number;
  readonly guestEvents: number;
  readonly runEvents: number;
  readonly lastNs: number;
  /** sha256 (hex) over every chunk's uncompressed columns, in file order (src/trace/batch-digest.ts): the events, whatever the encoding. */
  readonly digest: string;
  /**
   * Version 2 and later: sha256 (hex) of the file's bytes before the footer (magic,
   * header, chunks, their frames), then of `digest`'s hex (the footer's
   * other fields are checked against the events). The reader checks it as it reads, in
   * one pass over the compressed bytes, instead of hashing every decoded
   * column again (12 ns an event at 1.6 GB/s, the whole of an 80 M/s read).
   */
  readonly fileDigest?: string;
  /** Event counts by kind code, per stream. */
  readonly guestEventsByKind: readonly number[];
  readonly runEventsByKind: readonly number[];
  /** What the workload reported about itself (processes created, exited...). */
  readonly workloadStats: Readonly<Record<string, number>>;
  /** For run traces: the final state digest and the summary. */
  readonly run?: Readonly<Record<string, unknown>>;
}
