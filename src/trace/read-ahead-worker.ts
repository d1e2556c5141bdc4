import { createHash, type Hash } from 'node:crypto';
import { type MessagePort, receiveMessageOnPort } from 'node:worker_threads';
import { type ColumnArray, ColumnCodecError, columnOver, columnTypeBytes, decodeColumn } from './column-codec.js';
import { GUEST_COLUMN_SPECS, RUN_COLUMN_SPECS } from './column-specs.js';
import { MAX_CHUNK_EVENTS } from './chunk-check.js';
import { ColumnSplit } from './column-split.js';
import { RecordFile, RecordProblem } from './record-file.js';
import { fileDigestOf } from './trace-frame.js';

/** One trace to read ahead: what the reader hands the thread (src/trace/read-ahead.ts). */
export interface ReadAheadJob {
  readonly path: string;
  /** File offset of the first record after the header. */
  readonly start: number;
  readonly blockBytes: number;
  /** Hash the file's bytes before the footer (a version 2 or 3 trace's fileDigest). */
  readonly fileDigest: boolean;
  /** This trace's messages, in file order. */
  readonly port: MessagePort;
  /** [POSTED]: messages posted, [TAKEN]: taken by the reader, [CANCEL]: 1 once the reader has closed, [WAITING]: 1 while the reader waits for a message. */
  readonly shared: Int32Array;
  /** Messages posted and not yet taken, at most. */
  readonly ahead: number;
  /** Columns of a chunk decoded here at most, the rest left to the reader even when it is not waiting (tests pin the split with it); Infinity: as many as ColumnSplit finds balances the threads. */
  readonly columnsAhead: number;
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
      /** By column: its values decoded ahead, why they could not be, or undefined (left to the reader). */
      readonly columns?: ColumnAhead[];
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
 * and their columns (decodeChunk), and posts them in order, at most
 * `ahead` beyond what the reader has taken (bounded memory). Whatever it
 * finds wrong it posts in place of the record and stops: the reader throws
 * it when it reaches that record, as it would have found it itself.
 */
function runReadAhead(d: ReadAheadJob): void {
  const { port, shared } = d;
  let posted = 0;
  // The thread's ring, kept from one trace to the next (its pages already faulted in).
  ring ??= new SlotRing(d.ahead + 2);
  // Whether the last post waited for the reader to make room.
  let waitedForRoom = false;
  /** Posts a message when the reader has room for it; false once the reader has closed (the trace is dropped). */
  const post = (m: ReadAheadMessage): boolean => {
    waitedForRoom = false;
    for (;;) {
      if (Atomics.load(shared, CANCEL) !== 0) return false;
      const taken = Atomics.load(shared, TAKEN);
      if (posted - taken < d.ahead) break;
      waitedForRoom = true;
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
    // Columns decoded here: pinned by a test, else moved towards the balance (column-split.ts).
    const split = new ColumnSplit(GUEST_COLUMN_SPECS.length);
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
      const { columns, buffers, readerWaited } = decodeChunk(rec, (bytes) => ring!.get(posted, bytes), shared, Number.isFinite(d.columnsAhead) ? d.columnsAhead : split.decodeAhead);
      const waiting = readerWaited || Atomics.load(shared, WAITING) !== 0;
      if (!post({ t: 'rec', rec, at, totalBytes, ...(columns ? { columns } : {}), ...(buffers.length ? { buffers } : {}) })) return;
      split.posted(waiting, waitedForRoom);
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
 * A column of a chunk as the read-ahead thread hands it over: its values
 * (in the thread's shared slot), the ColumnCodecError message of why they
 * could not be decoded (thrown by the reader when it reaches that column,
 * so a chunk's defects are still reported in their order), or undefined
 * for a column left to the reader.
 */
export type ColumnAhead = ColumnArray | string | undefined;

/**
 * Decodes a chunk's columns in order, each into `slot` (shared memory the
 * reader reads in place: fresh buffers per chunk cost more in page faults
 * than their copying, measured), the first `most` of them (ColumnSplit),
 * or until the reader waits for this very chunk (`readerWaited`): the
 * columns left are handed over undecoded, their bytes laid
 * into the slot too (a post would otherwise copy each msgpack view's
 * whole read block), and the reader decodes them (trace-reader.ts) while
 * this thread reads the next chunk. So the two threads share the
 * Zstandard and unpacking work whichever is the slower, column by column.
 * A column decoded here keeps an empty `d`. A chunk the reader will refuse
 * before its columns (a bad stream, count or column list) is left whole.
 */
function decodeChunk(rec: Record<string, unknown>, slot: (bytes: number) => SharedArrayBuffer, readerState: Int32Array, most: number): { columns?: ColumnAhead[]; buffers: number[]; readerWaited: boolean } {
  const cols = rec['cols'];
  const buffers: number[] = [];
  if (!Array.isArray(cols)) return { buffers, readerWaited: false };
  const stream = rec['stream'];
  const count = rec['count'] as number;
  const specs = stream === 'guest' ? GUEST_COLUMN_SPECS : stream === 'run' ? RUN_COLUMN_SPECS : undefined;
  const whole = specs !== undefined && cols.length === specs.length && Number.isInteger(count) && count >= 1 && count <= MAX_CHUNK_EVENTS;
  const fields = cols.map((col) => (typeof col === 'object' && col !== null ? (col as Record<string, unknown>) : undefined));
  // Room for each column, 8-byte aligned for typed arrays: the larger of its values and its own bytes.
  let room = 0;
  fields.forEach((c, i) => {
    const own = c && viewOf(c['d']) ? (c['d'] as Uint8Array).byteLength : 0;
    const values = whole ? count * columnTypeBytes(specs[i]!.type) : 0;
    room += (Math.max(own, values) + 7) & ~7;
  });
  const sab = slot(room);
  const bytes = new Uint8Array(sab);
  let at = 0;
  const columns: ColumnAhead[] | undefined = whole ? [] : undefined;
  let handOver = !whole;
  let readerWaited = false;
  fields.forEach((c, i) => {
    if (!handOver && !(handOver = i >= most || (readerWaited = Atomics.load(readerState, WAITING) !== 0))) {
      const spec = specs![i]!;
      const out = columnOver(spec.type, sab, at, count);
      try {
        decodeColumn(spec, cols[i], count, out, i === 0 ? undefined : (columns![0] as Uint8Array));
        columns!.push(out);
        at += (out.byteLength + 7) & ~7;
      } catch (e) {
        if (!(e instanceof ColumnCodecError)) throw e;
        // The reader throws this at this column; it never looks past it.
        columns!.push(e.message);
        handOver = true;
      }
      if (c && 'd' in c) c['d'] = new Uint8Array(0);
      return;
    }
    columns?.push(undefined);
    const d = c?.['d'];
    // A typed array only (a DataView, which no trace holds, is posted as it is).
    if (!c || !viewOf(d)) return;
    // A post turns a Buffer into a Uint8Array: the reader turns it back.
    if (Buffer.isBuffer(d)) buffers.push(i);
    const T = (Buffer.isBuffer(d) ? Uint8Array : d.constructor) as Uint8ArrayConstructor;
    bytes.set(new Uint8Array(d.buffer, d.byteOffset, d.byteLength), at);
    c['d'] = new T(sab, at, d.byteLength / T.BYTES_PER_ELEMENT);
    at += (d.byteLength + 7) & ~7;
  });
  return { ...(columns ? { columns } : {}), buffers, readerWaited };
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
