import { createHash, type Hash } from 'node:crypto';
import { type MessagePort, receiveMessageOnPort } from 'node:worker_threads';
import { ColumnCodecError, inflateColumn, type Inflated } from './column-codec.js';
import { GUEST_COLUMN_SPECS, RUN_COLUMN_SPECS } from './column-specs.js';
import { MAX_CHUNK_EVENTS } from './chunk-check.js';
import { packedBound } from './packed-codec.js';
import { BLOCK_MAX, zstdFrameBound } from './zstd-frame.js';
import { RecordFile, RecordProblem } from './record-file.js';
import { fileDigestOf } from './trace-frame.js';

/** One trace to read ahead: what the reader hands the thread (src/trace/read-ahead.ts). */
export interface ReadAheadJob {
  readonly path: string;
  /** File offset of the first record after the header. */
  readonly start: number;
  readonly blockBytes: number;
  /** Hash the file's bytes before the footer (a version 2 trace's fileDigest). */
  readonly fileDigest: boolean;
  /** This trace's messages, in file order. */
  readonly port: MessagePort;
  /** [POSTED]: messages posted, [TAKEN]: taken by the reader, [CANCEL]: 1 once the reader has closed, [WAITING]: 1 while the reader waits for a message. */
  readonly shared: Int32Array;
  /** Messages posted and not yet taken, at most. */
  readonly ahead: number;
}
export const POSTED = 0;
export const TAKEN = 1;
export const CANCEL = 2;
export const WAITING = 3;

/** The thread's own: jobs arrive on `jobs`; [JOBS] counts them, [IDLE] is 1 between jobs. */
export interface ReadAheadThread {
  readonly jobs: MessagePort;
  readonly state: Int32Array;
}
export const JOBS = 0;
export const IDLE = 1;

/**
 * The thread's loop: one trace at a time, for as long as the process
 * lives (a thread started once serves every trace read after it: starting
 * one costs tens of milliseconds of loading and compiling).
 */
export function serveReadAhead(t: ReadAheadThread): void {
  let seen = 0;
  for (;;) {
    const got = receiveMessageOnPort(t.jobs);
    if (!got) {
      Atomics.wait(t.state, JOBS, seen);
      seen = Atomics.load(t.state, JOBS);
      continue;
    }
    const job = got.message as ReadAheadJob;
    try {
      runReadAhead(job);
    } finally {
      job.port.close();
      Atomics.store(t.state, IDLE, 1);
      Atomics.notify(t.state, IDLE);
    }
  }
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
function runReadAhead(d: ReadAheadJob): void {
  const { port, shared } = d;
  let posted = 0;
  // The thread's ring, kept from one trace to the next (its pages already faulted in).
  ring ??= new SlotRing(d.ahead + 2);
  /** Posts a message when the reader has room for it; false once the reader has closed (the trace is dropped). */
  const post = (m: ReadAheadMessage): boolean => {
    for (;;) {
      if (Atomics.load(shared, CANCEL) !== 0) return false;
      const taken = Atomics.load(shared, TAKEN);
      if (posted - taken < d.ahead) break;
      Atomics.wait(shared, TAKEN, taken);
    }
    port.postMessage(m);
    Atomics.store(shared, POSTED, ++posted);
    Atomics.notify(shared, POSTED);
    return true;
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
      const { inflated, buffers } = inflateChunk(rec, (bytes) => ring!.get(posted, bytes), shared);
      if (!post({ t: 'rec', rec, at, totalBytes, ...(inflated ? { inflated } : {}), ...(buffers.length ? { buffers } : {}) })) return;
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
 * not) and lays every column's bytes into `slot`: shared memory the reader
 * reads in place. A post would otherwise copy each msgpack view's whole
 * read block, and fresh buffers per chunk cost more in page faults than
 * their copying (measured: a third of this thread's time). A column
 * inflated here keeps an empty `d` (the reader uses the inflated bytes).
 * A chunk the reader will refuse before its columns (a bad stream, count
 * or column list) is left for it to refuse.
 */
function inflateChunk(rec: Record<string, unknown>, slot: (bytes: number) => SharedArrayBuffer, readerState: Int32Array): { inflated?: Inflated[]; buffers: number[] } {
  const cols = rec['cols'];
  const buffers: number[] = [];
  if (!Array.isArray(cols)) return { buffers };
  const stream = rec['stream'];
  const count = rec['count'];
  const specs = stream === 'guest' ? GUEST_COLUMN_SPECS : stream === 'run' ? RUN_COLUMN_SPECS : undefined;
  const whole = specs !== undefined && cols.length === specs.length && Number.isInteger(count) && (count as number) >= 1 && (count as number) <= MAX_CHUNK_EVENTS;
  const fields = cols.map((col) => (typeof col === 'object' && col !== null ? (col as Record<string, unknown>) : undefined));
  const zstdColumn = (c: Record<string, unknown> | undefined): c is Record<string, unknown> & { d: Uint8Array } => whole && c?.['c'] === 'p' && c['z'] === 'zstd' && c['d'] instanceof Uint8Array;
  // Room for every column's bytes, 8-byte aligned for typed arrays: a
  // Zstandard column's most (from its frame's headers, when within what
  // its values can take: a larger one is refused uninflated), else its own.
  const most = whole ? packedBound(count as number) + BLOCK_MAX : 0;
  let room = 0;
  for (const c of fields) {
    const own = c && viewOf(c['d']) ? (c['d'] as Uint8Array).byteLength : 0;
    const z = zstdColumn(c) ? (zstdFrameBound(c.d) ?? 0) : 0;
    room += (Math.max(own, z <= most ? z : 0) + 7) & ~7;
  }
  const sab = slot(room);
  const bytes = new Uint8Array(sab);
  let at = 0;
  /** Copies `p` into the slot; returns where. */
  const lay = (p: Uint8Array): number => {
    bytes.set(p, at);
    const from = at;
    at += (p.length + 7) & ~7;
    return from;
  };
  // When the reader is waiting for this very chunk, the thread hands it
  // over at once and the reader inflates the columns left (the reader does
  // that by itself for a column not inflated): the two threads share the
  // Zstandard work when this one is the slower.
  let handOver = false;
  const inflated: Inflated[] | undefined = whole ? [] : undefined;
  fields.forEach((c, i) => {
    if (!c) {
      inflated?.push(undefined);
      return;
    }
    const d = c['d'];
    if (zstdColumn(c) && !(handOver ||= Atomics.load(readerState, WAITING) !== 0)) {
      let got: Uint8Array | string;
      try {
        // A view of the decoder's memory until its next call: laid into the slot now.
        got = inflateColumn(specs![i]!, c.d, count as number);
      } catch (e) {
        if (!(e instanceof ColumnCodecError)) throw e;
        got = e.message;
      }
      // Inflation failed: the reader throws why, before it would look at the bytes.
      inflated!.push(typeof got === 'string' ? got : new Uint8Array(sab, lay(got), got.length));
      c['d'] = new Uint8Array(0);
      return;
    }
    inflated?.push(undefined);
    // A typed array only (a DataView, which no trace holds, is posted as it is).
    if (!viewOf(d)) return;
    // A post turns a Buffer into a Uint8Array: the reader turns it back.
    if (Buffer.isBuffer(d)) buffers.push(i);
    const T = (Buffer.isBuffer(d) ? Uint8Array : d.constructor) as Uint8ArrayConstructor;
    const from = lay(new Uint8Array(d.buffer, d.byteOffset, d.byteLength));
    c['d'] = new T(sab, from, d.byteLength / T.BYTES_PER_ELEMENT);
  });
  return { ...(inflated ? { inflated } : {}), buffers };
}

/** A typed array's bytes (not a DataView's). */
function viewOf(d: unknown): d is Uint8Array {
  return ArrayBuffer.isView(d) && (d as Uint8Array).BYTES_PER_ELEMENT > 0;
}

/**
 * The shared memory each message's bytes are laid into, one slot per
 * message, reused round the ring. The reader holds a message's bytes only
 * until it takes the next, and the thread posts message m only once the
 * reader has taken m - ahead: a ring of ahead + 2 slots is never written
 * under the reader, even before the thread waits for room.
 */
let ring: SlotRing | undefined;

class SlotRing {
  private readonly slots: SharedArrayBuffer[];
  constructor(private readonly size: number) {
    this.slots = [];
  }
  get(message: number, bytes: number): SharedArrayBuffer {
    const k = message % this.size;
    const have = this.slots[k];
    if (have && have.byteLength >= bytes) return have;
    const sab = new SharedArrayBuffer(Math.max(bytes, 2 * (have?.byteLength ?? 0), 64));
    this.slots[k] = sab;
    return sab;
  }
}
