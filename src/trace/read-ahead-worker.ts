import { createHash, type Hash } from 'node:crypto';
import type { MessagePort } from 'node:worker_threads';
import { ColumnCodecError, inflateColumn, type Inflated } from './column-codec.js';
import { GUEST_COLUMN_SPECS, RUN_COLUMN_SPECS } from './column-specs.js';
import { MAX_CHUNK_EVENTS } from './chunk-check.js';
import { RecordFile, RecordProblem } from './record-file.js';
import { fileDigestOf } from './trace-frame.js';

/** What the reader hands the read-ahead thread (src/trace/read-ahead.ts). */
export interface ReadAheadData {
  readonly path: string;
  /** File offset of the first record after the header. */
  readonly start: number;
  readonly blockBytes: number;
  /** Hash the file's bytes before the footer (a version 2 trace's fileDigest). */
  readonly fileDigest: boolean;
  readonly port: MessagePort;
  /** [0]: messages posted, [1]: messages taken by the reader. */
  readonly shared: Int32Array;
  /** Messages posted and not yet taken, at most. */
  readonly ahead: number;
}

/** One message to the reader, in file order; the last is a footer, a problem, or a record the reader will refuse. */
export type ReadAheadMessage =
  | {
      readonly t: 'rec';
      readonly rec: Record<string, unknown>;
      readonly at: number;
      readonly totalBytes: number;
      /** By column: its Zstandard bytes inflated, or why they are not. */
      readonly inflated?: Inflated[];
      /** Columns whose bytes were a Buffer (a post makes them Uint8Arrays). */
      readonly buffers?: number[];
      /** The footer's: the digest of the bytes before it. */
      readonly fileDigest?: string;
    }
  | { readonly t: 'problem'; readonly problem: string; readonly at: number; readonly record?: string; readonly hint?: string }
  | { readonly t: 'io'; readonly code: string; readonly message: string; readonly syscall?: string; readonly errno?: number }
  | { readonly t: 'crash'; readonly message: string };

/**
 * The read-ahead thread: reads the records after the header, checks their
 * frames and CRCs, hashes the file for its digest, decodes their msgpack
 * and inflates their Zstandard columns, and posts them in order, at most
 * `ahead` beyond what the reader has taken (bounded memory). Whatever it
 * finds wrong it posts in place of the record and stops: the reader throws
 * it when it reaches that record, as it would have found it itself.
 */
export function runReadAhead(d: ReadAheadData): void {
  const { port, shared } = d;
  let posted = 0;
  const post = (m: ReadAheadMessage, transfer: ArrayBuffer[] = []) => {
    while (posted - Atomics.load(shared, 1) >= d.ahead) Atomics.wait(shared, 1, posted - d.ahead);
    port.postMessage(m, transfer);
    Atomics.store(shared, 0, ++posted);
    Atomics.notify(shared, 0);
  };
  let file: RecordFile | undefined;
  try {
    const hash: Hash | undefined = d.fileDigest ? createHash('sha256') : undefined;
    file = new RecordFile(d.path, d.blockBytes, hash);
    // The digest covers the magic and the header, which the reader read itself.
    if (hash) hash.update(file.bytes(0, d.start));
    let at = d.start;
    for (let recordNo = 1; ; recordNo++) {
      const { rec, totalBytes } = file.read(at, `record ${recordNo}`, recordNo, recordNo - 1);
      const type = rec['type'];
      if (type === 'footer') {
        const digest = rec['digest'];
        post({ t: 'rec', rec, at, totalBytes, ...(hash && typeof digest === 'string' ? { fileDigest: fileDigestOf(hash, digest) } : {}) });
        return;
      }
      if (type !== 'chunk') {
        post({ t: 'rec', rec, at, totalBytes });
        return;
      }
      const transfer: ArrayBuffer[] = [];
      const { inflated, buffers } = inflateChunk(rec, transfer);
      post({ t: 'rec', rec, at, totalBytes, ...(inflated ? { inflated } : {}), ...(buffers.length ? { buffers } : {}) }, transfer);
      at += totalBytes;
    }
  } catch (e) {
    if (e instanceof RecordProblem) post({ t: 'problem', problem: e.problem, at: e.at, ...(e.record !== undefined ? { record: e.record } : {}), ...(e.hint !== undefined ? { hint: e.hint } : {}) });
    else if (typeof (e as NodeJS.ErrnoException)?.code === 'string') {
      const err = e as NodeJS.ErrnoException;
      post({ t: 'io', code: err.code!, message: err.message, ...(err.syscall ? { syscall: err.syscall } : {}), ...(err.errno !== undefined ? { errno: err.errno } : {}) });
    } else post({ t: 'crash', message: (e as Error)?.stack ?? String(e) });
  } finally {
    file?.close();
  }
}

/**
 * Inflates a chunk's Zstandard columns (the bytes, or the message of why
 * not) and gives each of its binary fields a buffer of its own to
 * transfer: msgpack's are views of the whole read block, which a post would
 * copy whole. A chunk the reader will refuse before its columns (a bad
 * stream, count or column list) is left for it to refuse.
 */
function inflateChunk(rec: Record<string, unknown>, transfer: ArrayBuffer[]): { inflated?: Inflated[]; buffers: number[] } {
  const cols = rec['cols'];
  const buffers: number[] = [];
  if (!Array.isArray(cols)) return { buffers };
  cols.forEach((col, i) => {
    if (typeof col !== 'object' || col === null) return;
    const c = col as Record<string, unknown>;
    const d = c['d'];
    if (!ArrayBuffer.isView(d)) return;
    // A post turns a Buffer into a Uint8Array: the reader turns it back.
    if (Buffer.isBuffer(d)) buffers.push(i);
    const own = Buffer.isBuffer(d) ? new Uint8Array(d) : (d as Uint8Array).slice();
    c['d'] = own;
    transfer.push(own.buffer as ArrayBuffer);
  });
  const stream = rec['stream'];
  const count = rec['count'];
  const specs = stream === 'guest' ? GUEST_COLUMN_SPECS : stream === 'run' ? RUN_COLUMN_SPECS : undefined;
  if (!specs || cols.length !== specs.length || !Number.isInteger(count) || (count as number) < 1 || (count as number) > MAX_CHUNK_EVENTS) return { buffers };
  const inflated = cols.map((col, i): Inflated => {
    const c = col as Record<string, unknown> | null;
    if (typeof c !== 'object' || c === null || c['c'] !== 'p' || c['z'] !== 'zstd' || !(c['d'] instanceof Uint8Array)) return undefined;
    try {
      // The binding's output is memory of its own, which a post copies: a
      // copy here, on this thread, is handed over whole instead.
      const bytes = new Uint8Array(inflateColumn(specs[i]!, c['d'], count as number));
      transfer.push(bytes.buffer as ArrayBuffer);
      return bytes;
    } catch (e) {
      if (e instanceof ColumnCodecError) return e.message;
      throw e;
    }
  });
  return { inflated, buffers };
}
