import { createHash, type Hash } from 'node:crypto';
import type { GuestBatch } from '../events/guest-batch.js';
import { GUEST_EVENT_KIND_NAMES } from '../events/guest-event-kind.js';
import type { RunBatch } from '../events/run-batch.js';
import { RUN_EVENT_KIND_NAMES } from '../events/run-event-kind.js';
import { BatchDigest, STREAM_TAG } from './batch-digest.js';
import { allocateColumn, type ColumnArray, ColumnCodecError, decodeColumn } from './column-codec.js';
import { GUEST_COLUMN_SPECS, RUN_COLUMN_SPECS } from './column-specs.js';
import { ChunkCheck, type ChunkProblem, MAX_CHUNK_EVENTS } from './chunk-check.js';
import { headerProblem } from './header-check.js';
import { type AheadRecord, ReadAhead } from './read-ahead.js';
import type { ColumnAhead } from './read-ahead-worker.js';
import { RecordFile, RecordProblem } from './record-file.js';
import { fileDigestOf, TRACE_MAGIC } from './trace-frame.js';
import { TraceError } from './trace-error.js';
import { withPath } from '../util/io-error.js';
import { READABLE_TRACE_VERSIONS, TRACE_FORMAT, type TraceFooter, type TraceHeader } from './trace-records.js';
import { firstIssue, traceFooterSchema, traceHeaderSchema } from './trace-schemas.js';

export type TraceChunk =
  | { readonly stream: 'guest'; readonly seq: number; readonly batch: GuestBatch }
  | { readonly stream: 'run'; readonly seq: number; readonly batch: RunBatch };

export interface TraceReaderOptions {
  /**
   * Check the footer's digest (default true): of a version 2 or 3 trace, its
   * fileDigest, hashed over the bytes as they are read; of a version 1
   * trace, its digest, recomputed over the decoded columns.
   */
  readonly verifyDigest?: boolean;
  /** Bytes read from the file at a time (default 4 MiB). */
  readonly blockBytes?: number;
  /**
   * Read on a thread of its own the records after the header (frames,
   * CRCs, the file digest, Zstandard: src/trace/read-ahead.ts) while this
   * thread decodes and checks the chunks: `auto` (default) for files of
   * ReadAhead.MIN_BYTES or more when the thread's module is built,
   * `thread` always (where it is built), `inline` never. The chunks,
   * footer and errors are the same either way.
   */
  readonly readAhead?: 'auto' | 'thread' | 'inline';
}

/** What to do about a file whose records are well framed but whose content migsim did not write. */
const ALTERED = 'the file was altered, or written by another program; record it again';

/**
 * Streams a trace in bounded memory: the file is read in blocks, one record
 * at a time, and each chunk is decoded into columns that are reused for the
 * next chunk (copy a batch to keep it). Every defect (truncation, a flipped
 * byte, a wrong magic, an unknown version, a digest mismatch) is a
 * TraceError naming the file, the byte offset and the record.
 *
 * Checksums and the digest only prove the bytes are the ones written, so
 * the content is checked too: the header against the model's limits
 * (src/trace/header-check.ts), each chunk's events against the header
 * before the chunk is handed on (src/trace/chunk-check.ts), and the
 * footer's counts, per kind too, against the events read. A consumer that
 * starts on the first chunk (`run`, `replay`) never sees an event migsim
 * could not have written, even before the footer's digest is reached.
 */
export class TraceReader {
  readonly header: TraceHeader;
  readonly fileBytes: number;
  /** The records read on this thread: the header's, and the rest's when no thread reads ahead. */
  private file: RecordFile | undefined;
  private ahead: ReadAhead | undefined;
  /** Block size for the read-ahead thread, until it is started (0: none wanted, or started). */
  private readAheadBlockBytes = 0;
  private pos = 0; // file offset of the next record
  /** Version 1: the digest of the decoded columns. */
  private digest: BatchDigest | undefined;
  /** Version 2: the hash of the file's bytes before the footer, fed record by record as they are read (on this thread). */
  private fileHash: Hash | undefined;
  /** Version 2: the footer's fileDigest is checked (by the hash above, or by the read-ahead thread's). */
  private checkFileDigest = false;
  /** The read-ahead thread's digest of the bytes before the footer, and the columns it decoded of the chunk being decoded. */
  private aheadFileDigest: string | undefined;
  private columnsAhead: ColumnAhead[] | undefined;
  private recordNo = 0;
  private nextSeq = 0;
  private guestEvents = 0;
  private runEvents = 0;
  private lastNs = 0;
  private guestEndNs = 0;
  private runEndNs = 0;
  private footerRecord: TraceFooter | undefined;
  private readonly guestCols: ColumnArray[];
  private readonly runCols: ColumnArray[];
  private capacity = 0;
  private check!: ChunkCheck;

  static open(path: string, options: TraceReaderOptions = {}): TraceReader {
    return new TraceReader(path, options);
  }

  private constructor(
    readonly path: string,
    options: TraceReaderOptions,
  ) {
    const blockBytes = options.blockBytes ?? 4 * 1024 * 1024;
    if (options.verifyDigest !== false) this.fileHash = createHash('sha256');
    this.file = new RecordFile(path, blockBytes, this.fileHash);
    this.fileBytes = this.file.fileBytes;
    this.guestCols = [];
    this.runCols = [];
    try {
      const magic = this.file.bytes(0, TRACE_MAGIC.length);
      if (magic.length < TRACE_MAGIC.length || !magic.equals(TRACE_MAGIC)) {
        throw new TraceError(path, 'not a migsim trace (wrong magic)', 0, undefined, 'expected a file written by migsim record or migsim run --record');
      }
      this.pos = TRACE_MAGIC.length;
      this.fileHash?.update(TRACE_MAGIC);
      this.header = this.readHeader();
      if (this.fileHash && this.header.version === 1) {
        this.fileHash = undefined;
        this.file.dropHash();
        this.digest = new BatchDigest();
      }
      this.checkFileDigest = this.fileHash !== undefined;
      this.check = new ChunkCheck(this.header);
      const mode = options.readAhead ?? 'auto';
      this.readAheadBlockBytes = mode !== 'inline' && (mode === 'thread' || this.fileBytes >= ReadAhead.MIN_BYTES) && ReadAhead.available() ? blockBytes : 0;
    } catch (e) {
      this.close();
      throw e;
    }
  }

  /** True while a read-ahead thread reads the records (options.readAhead). */
  get readsAhead(): boolean {
    return this.ahead !== undefined;
  }

  /** The footer, once `nextChunk` has returned undefined. */
  get footer(): TraceFooter {
    if (!this.footerRecord) throw new Error(`${this.path}: footer not reached yet`);
    return this.footerRecord;
  }

  /**
   * The share of the file, 0 to 1, taken up by the records returned so
   * far: how far through the trace a caller is (for a progress bar).
   */
  get fractionRead(): number {
    return this.pos / this.fileBytes;
  }

  /**
   * The next chunk's events, or undefined after the footer has been read and
   * checked. The batch's arrays are reused by the following call.
   */
  nextChunk(): TraceChunk | undefined {
    if (this.footerRecord) return undefined;
    const at = this.pos;
    const rec = this.readRecord(`record ${this.recordNo}`);
    if (rec['type'] === 'footer') {
      this.finishWith(rec, at);
      return undefined;
    }
    if (rec['type'] !== 'chunk') throw this.error(`unexpected record type '${String(rec['type'])}'`, at, `record ${this.recordNo - 1}`);
    return this.decodeChunk(rec, at);
  }

  /**
   * Reads every remaining chunk, calling `fn` for each, and returns the
   * footer. The file is closed when the footer is read, or when a read or
   * `fn` throws.
   */
  forEachChunk(fn: (chunk: TraceChunk) => void): TraceFooter {
    try {
      for (let c = this.nextChunk(); c; c = this.nextChunk()) fn(c);
    } catch (e) {
      this.close();
      throw e;
    }
    return this.footer;
  }

  close(): void {
    this.readAheadBlockBytes = 0;
    this.file?.close();
    this.ahead?.close();
    this.ahead = undefined;
  }

  private readHeader(): TraceHeader {
    const at = this.pos;
    const rec = this.readRecord('header');
    if (rec['type'] !== 'header' || rec['format'] !== TRACE_FORMAT) {
      throw this.error('not a migsim trace (no header record)', at, 'header');
    }
    if (!READABLE_TRACE_VERSIONS.includes(rec['version'] as number)) {
      throw this.error(`unknown trace format version ${String(rec['version'])}`, at, 'header', `this migsim reads versions ${readableVersions()}; use the migsim that wrote it, or record the trace again`);
    }
    const parsed = traceHeaderSchema.safeParse(rec);
    if (!parsed.success) throw this.error(`bad header field ${firstIssue(parsed.error)}`, at, 'header', ALTERED);
    const header = parsed.data as TraceHeader;
    const bad = headerProblem(header);
    if (bad) throw this.error(`bad header field ${bad.field}: ${bad.problem}`, at, 'header', ALTERED);
    return header;
  }

  private decodeChunk(rec: Record<string, unknown>, at: number): TraceChunk {
    const where = `chunk ${this.nextSeq}`;
    const { seq, stream, count, baseNs, endNs, cols } = rec as Record<string, never>;
    if (seq !== this.nextSeq) throw this.error(`chunk out of sequence (found ${String(seq)}, expected ${this.nextSeq})`, at, where);
    if (stream !== 'guest' && stream !== 'run') throw this.error(`chunk has unknown stream '${String(stream)}'`, at, where);
    if (!Number.isInteger(count) || count < 1 || count > MAX_CHUNK_EVENTS) throw this.error(`chunk has a bad event count ${String(count)}`, at, where);
    const specs = stream === 'guest' ? GUEST_COLUMN_SPECS : RUN_COLUMN_SPECS;
    if (!Array.isArray(cols) || (cols as unknown[]).length !== specs.length) throw this.error('chunk does not hold its columns', at, where);
    const expectBase = stream === 'guest' ? this.guestEndNs : this.runEndNs;
    if (baseNs !== expectBase) throw this.error(`chunk starts at ${String(baseNs)} ns but the previous one ended at ${expectBase} ns`, at, where);
    if (count > this.capacity) this.grow(count);
    const bufs = stream === 'guest' ? this.guestCols : this.runCols;
    const views: ColumnArray[] = [];
    try {
      // The kinds first: a packed column may be predicted from them. A
      // column the read-ahead thread decoded is read where it is (its
      // shared slot is not rewritten before the next chunk is taken).
      for (let c = 0; c < specs.length; c++) {
        const ahead = this.columnsAhead?.[c];
        if (typeof ahead === 'string') throw new ColumnCodecError(ahead);
        if (ahead) {
          views.push(ahead);
          continue;
        }
        const view = bufs[c]!.subarray(0, count);
        decodeColumn(specs[c]!, (cols as unknown[])[c], count, view, c === 0 ? undefined : (views[0] as Uint8Array));
        views.push(view);
      }
    } catch (e) {
      if (e instanceof ColumnCodecError) throw this.error(e.message, at, where);
      throw e;
    }
    const dt = views[1] as Uint32Array;
    let t = baseNs as number;
    for (let i = 0; i < count; i++) t += dt[i]!;
    if (t !== endNs) throw this.error(`chunk's times add up to ${t} ns, not its end ${String(endNs)} ns`, at, where);
    if (!Number.isSafeInteger(t)) throw this.error(`chunk's times reach ${t} ns, past what a trace can hold exactly (2^53 ns)`, at, where, ALTERED);
    let chunk: TraceChunk;
    let bad: ChunkProblem | undefined;
    if (stream === 'guest') {
      const [kind, dtNs, vcpu, page, arg, pte] = views as [Uint8Array, Uint32Array, Uint16Array, Int32Array, Int32Array, Int32Array];
      chunk = { stream, seq, batch: { count, baseNs, endNs: t, kind, dtNs, vcpu, page, arg, pte } };
      bad = this.check.guest(chunk.batch);
    } else {
      const [kind, dtNs, vcpu, page, arg, costNs] = views as [Uint8Array, Uint32Array, Uint16Array, Int32Array, Int32Array, Uint32Array];
      chunk = { stream, seq, batch: { count, baseNs, endNs: t, kind, dtNs, vcpu, page, arg, costNs } };
      bad = this.check.run(chunk.batch);
    }
    if (bad) throw this.error(bad.problem, at, bad.event >= 0 ? `${where} (${stream}), event ${bad.event}` : `${where} (${stream})`, ALTERED);
    this.digest?.add(STREAM_TAG[stream], count, views);
    this.nextSeq++;
    if (t > this.lastNs) this.lastNs = t;
    if (stream === 'guest') {
      this.guestEndNs = t;
      this.guestEvents += count;
    } else {
      this.runEndNs = t;
      this.runEvents += count;
    }
    return chunk;
  }

  private finishWith(rec: Record<string, unknown>, at: number): void {
    const where = 'footer';
    const parsed = traceFooterSchema.safeParse(rec);
    if (!parsed.success) throw this.error(`bad footer field ${firstIssue(parsed.error)}`, at, where, ALTERED);
    const f = parsed.data as TraceFooter;
    if ((this.header.traceKind === 'run') !== (f.run !== undefined)) {
      throw this.error(`a ${this.header.traceKind} trace's footer ${f.run ? 'has' : 'lacks'} a run (final state digest and summary)`, at, where, ALTERED);
    }
    const mismatch = (what: string, stored: number | string, seen: number | string) =>
      this.error(`footer says ${stored} ${what} but the file holds ${seen}`, at, where, 'the file was altered after it was written; record it again');
    if (f.chunks !== this.nextSeq) throw mismatch('chunks', f.chunks, this.nextSeq);
    if (f.guestEvents !== this.guestEvents) throw mismatch('guest events', f.guestEvents, this.guestEvents);
    if (f.runEvents !== this.runEvents) throw mismatch('run events', f.runEvents, this.runEvents);
    if (f.lastNs !== this.lastNs) throw mismatch('ns as last time', f.lastNs, this.lastNs);
    const guestKinds = kindMismatch(f.guestEventsByKind, this.check.guestByKind);
    if (guestKinds >= 0) throw mismatch(`${GUEST_EVENT_KIND_NAMES[guestKinds] ?? `kind ${guestKinds}`} guest events`, f.guestEventsByKind[guestKinds] ?? 0, this.check.guestByKind[guestKinds] ?? 0);
    const runKinds = kindMismatch(f.runEventsByKind, this.check.runByKind);
    if (runKinds >= 0) throw mismatch(`${RUN_EVENT_KIND_NAMES[runKinds] ?? `kind ${runKinds}`} run events`, f.runEventsByKind[runKinds] ?? 0, this.check.runByKind[runKinds] ?? 0);
    if (this.header.version >= 2 && f.fileDigest === undefined) throw this.error(`bad footer field fileDigest: a version ${this.header.version} footer has one`, at, where, ALTERED);
    if (this.checkFileDigest) {
      const d = this.aheadFileDigest ?? fileDigestOf(this.fileHash!, f.digest);
      if (d !== f.fileDigest) throw this.error(`file digest mismatch (footer ${f.fileDigest!.slice(0, 16)}…, file ${d.slice(0, 16)}…)`, at, where, 'the bytes are not the ones recorded; record the trace again');
    }
    if (this.digest) {
      const d = this.digest.hex();
      if (d !== f.digest) throw this.error(`digest mismatch (footer ${f.digest.slice(0, 16)}…, events ${d.slice(0, 16)}…)`, at, where, 'the events are not the ones recorded; record the trace again');
    }
    if (this.pos !== this.fileBytes) {
      throw this.error(`${this.fileBytes - this.pos} unexpected bytes after the footer`, this.pos, 'after footer', 'the file was appended to; truncate it or record it again');
    }
    this.footerRecord = f;
    this.close();
  }

  /** Reads and checks one framed record at this.pos (on this thread, or from the read-ahead thread), and decodes its msgpack. */
  private readRecord(where: string): Record<string, unknown> {
    const at = this.pos;
    // The thread is asked for at the first chunk: a reader opened for its header alone starts none.
    if (this.readAheadBlockBytes > 0) this.startReadAhead();
    let got;
    try {
      got = this.ahead ? this.ahead.next() : this.file!.read(at, where, this.recordNo, this.nextSeq);
    } catch (e) {
      if (e instanceof RecordProblem) throw this.error(e.problem, e.at, e.record, e.hint);
      // A read by descriptor names no file: the user is told which (EIO mid-file, say).
      this.close();
      throw withPath(e, this.path, 'read');
    }
    // Each record's own: a chunk the thread left whole has none.
    this.columnsAhead = (got as AheadRecord).columns;
    if ((got as AheadRecord).fileDigest !== undefined) this.aheadFileDigest = (got as AheadRecord).fileDigest;
    this.pos = at + got.totalBytes;
    this.recordNo++;
    return got.rec;
  }

  private startReadAhead(): void {
    this.ahead = ReadAhead.start(this.path, this.pos, this.readAheadBlockBytes, this.checkFileDigest);
    this.readAheadBlockBytes = 0;
    if (this.ahead) {
      this.fileHash = undefined;
      this.file!.close();
      this.file = undefined;
    }
  }

  private grow(count: number): void {
    this.capacity = count;
    this.guestCols.length = 0;
    this.runCols.length = 0;
    for (const s of GUEST_COLUMN_SPECS) this.guestCols.push(allocateColumn(s.type, count));
    for (const s of RUN_COLUMN_SPECS) this.runCols.push(allocateColumn(s.type, count));
  }

  private error(problem: string, at: number, record?: string, hint?: string): TraceError {
    this.close();
    return new TraceError(this.path, problem, at, record, hint);
  }
}

/** "1, 2 and 3". */
function readableVersions(): string {
  const v = READABLE_TRACE_VERSIONS;
  return v.length === 1 ? String(v[0]) : `${v.slice(0, -1).join(', ')} and ${v[v.length - 1]}`;
}

/** The first kind whose count in the footer differs from the events counted (a kind the footer leaves out counts 0), or -1. */
function kindMismatch(footer: readonly number[], counted: Float64Array): number {
  const n = Math.max(footer.length, counted.length);
  for (let k = 0; k < n; k++) if ((footer[k] ?? 0) !== (counted[k] ?? 0)) return k;
  return -1;
}
