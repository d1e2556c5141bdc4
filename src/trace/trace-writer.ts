import { createHash } from 'node:crypto';
import { Packr } from 'msgpackr';
import type { GuestBatch } from '../events/guest-batch.js';
import { GUEST_EVENT_KIND_COUNT } from '../events/guest-event-kind.js';
import type { RunBatch } from '../events/run-batch.js';
import { RUN_EVENT_KIND_NAMES, RUN_EVENT_KINDS_ALWAYS_COUNTED } from '../events/run-event-kind.js';
import { AtomicFile } from '../util/atomic-write.js';
import { BatchDigest, STREAM_TAG } from './batch-digest.js';
import { type ColumnArray, ColumnEncoder, type EncodedColumn } from './column-codec.js';
import { isConstantColumn } from './column-constant.js';
import { GUEST_COLUMN_SPECS, RUN_COLUMN_SPECS, type TraceStream } from './column-specs.js';
import { fileDigestOf, frameHead, frameTail, TRACE_MAGIC, traceCodecOptions } from './trace-frame.js';
import { type ChunkRecord, TRACE_VERSION, type TraceFooter, type TraceHeader } from './trace-records.js';

// Where they are defined (the byte layout, which the read-ahead thread loads without the writer).
export { fileDigestOf, traceCodecOptions };

/**
 * Writes a trace atomically (src/util/atomic-write.ts): everything goes to
 * a temporary of this writer's own (`<file>.<pid>.<n>.partial`), which is
 * renamed over `file` only after the footer is written and synced. An
 * aborted write removes the temporary and leaves any earlier `file` as it
 * was; of two writers to one `file` at once, the one that renames last
 * leaves its complete trace, and `finish` of the other throws
 * FileReplacedError if it can see its trace was replaced.
 */
export class TraceWriter {
  private readonly file: AtomicFile;
  private readonly packr = new Packr(traceCodecOptions());
  private readonly encoder: ColumnEncoder;
  private readonly digest = new BatchDigest();
  /** Every byte written before the footer: the footer's fileDigest. */
  private readonly fileHash = createHash('sha256');
  private fileHashed = false;
  private seq = 0;
  private guestEvents = 0;
  private runEvents = 0;
  private lastNs = 0;
  private readonly guestByKind = new Array<number>(GUEST_EVENT_KIND_COUNT).fill(0);
  private readonly runByKind = new Array<number>(RUN_EVENT_KIND_NAMES.length).fill(0);

  /** The header as written: always this migsim's format version (a run recorded from an older trace is written in today's format). */
  readonly header: TraceHeader;

  constructor(
    readonly path: string,
    header: TraceHeader,
  ) {
    this.header = { ...header, version: TRACE_VERSION };
    this.encoder = new ColumnEncoder(header.encoding);
    this.file = new AtomicFile(path);
    this.writeBytes(TRACE_MAGIC);
    this.writeRecord(this.header);
  }

  get fileBytes(): number {
    return this.file.bytesWritten;
  }

  writeGuestBatch(b: GuestBatch): void {
    if (b.count === 0) return;
    const cols: ColumnArray[] = [b.kind, b.dtNs, b.vcpu, b.page, b.arg, b.pte];
    countKinds(b.kind, b.count, this.guestByKind);
    this.guestEvents += b.count;
    this.writeChunk('guest', b.count, b.baseNs, b.endNs, cols);
  }

  writeRunBatch(b: RunBatch): void {
    if (b.count === 0) return;
    const cols: ColumnArray[] = [b.kind, b.dtNs, b.vcpu, b.page, b.arg, b.costNs];
    countKinds(b.kind, b.count, this.runByKind);
    this.runEvents += b.count;
    this.writeChunk('run', b.count, b.baseNs, b.endNs, cols);
  }

  /** Writes the footer, syncs and renames into place. Returns the footer. */
  finish(extra: { workloadStats?: Readonly<Record<string, number>>; run?: Readonly<Record<string, unknown>> } = {}): TraceFooter {
    const digest = this.digest.hex();
    const fileDigest = fileDigestOf(this.fileHash, digest);
    this.fileHashed = true;
    const footer: TraceFooter = {
      type: 'footer',
      chunks: this.seq,
      guestEvents: this.guestEvents,
      runEvents: this.runEvents,
      lastNs: this.lastNs,
      digest,
      fileDigest,
      guestEventsByKind: this.guestByKind,
      runEventsByKind: countedKinds(this.runByKind, RUN_EVENT_KINDS_ALWAYS_COUNTED),
      workloadStats: extra.workloadStats ?? {},
      ...(extra.run ? { run: extra.run } : {}),
    };
    this.writeRecord(footer);
    this.file.commit();
    return footer;
  }

  /** Drops the temporary; the destination is untouched. Safe to call twice. */
  abort(): void {
    this.file.abort();
  }

  private writeChunk(stream: TraceStream, count: number, baseNs: number, endNs: number, cols: ColumnArray[]): void {
    const specs = stream === 'guest' ? GUEST_COLUMN_SPECS : RUN_COLUMN_SPECS;
    const encoded: EncodedColumn[] = [];
    const kinds = cols[0] as Uint8Array;
    for (let c = 0; c < specs.length; c++) encoded.push(this.encoder.encode(specs[c]!, cols[c]!, count, c === 0 ? undefined : kinds));
    this.digest.add(STREAM_TAG[stream], count, cols);
    const chunk: ChunkRecord = { type: 'chunk', seq: this.seq++, stream, count, baseNs, endNs, cols: encoded };
    if (endNs > this.lastNs) this.lastNs = endNs;
    this.writeRecord(chunk);
  }

  private writeRecord(record: object): void {
    const payload = this.packr.pack(record);
    this.writeBytes(frameHead(payload.length));
    this.writeBytes(payload);
    this.writeBytes(frameTail(payload));
  }

  private writeBytes(bytes: Uint8Array): void {
    if (!this.file.isOpen) throw new Error(`trace writer for ${this.path} is closed`);
    this.file.write(bytes);
    if (!this.fileHashed) this.fileHash.update(bytes);
  }
}


function countKinds(kinds: Uint8Array, count: number, into: number[]): void {
  if (isConstantColumn(kinds, count)) {
    into[kinds[0]!]! += count;
    return;
  }
  for (let i = 0; i < count; i++) into[kinds[i]!]!++;
}

/**
 * The per-kind counts a footer lists: the first `always` kinds, then later
 * ones up to the last the trace holds, so appending a kind leaves the
 * footer of a trace without it as it was.
 */
function countedKinds(counts: readonly number[], always: number): number[] {
  let n = counts.length;
  while (n > always && counts[n - 1] === 0) n--;
  return counts.slice(0, n);
}
