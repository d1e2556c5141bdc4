import { copyGuestBatch, type GuestBatch } from '../events/guest-batch.js';
import { GuestBatchBuilder } from '../events/guest-batch-builder.js';
import type { TraceFooter, TraceHeader } from '../trace/trace-records.js';
import { TraceReader } from '../trace/trace-reader.js';
import { TraceWriter } from '../trace/trace-writer.js';
import { createScratchFile, removeTemporary } from '../util/temporary-files.js';

/**
 * What the import job (src/import/import-job.ts) needs of the trace a
 * capture format writes: the builder its guest emits into, sealing under
 * the complete header, and dropping it on failure.
 */
export interface SealableTrace {
  readonly builder: GuestBatchBuilder;
  seal(header: TraceHeader, workloadStats: Readonly<Record<string, number>>): { footer: TraceFooter; fileBytes: number };
  abort(): void;
}

/**
 * The trace an importer writes. Its header must carry what is known only at
 * the end of the capture (the source file's sha256, the capture's length),
 * but a trace writes its header first: so the events go to a provisional
 * trace beside the output, and `seal` copies them, chunk for chunk, under
 * the complete header into OUT (atomically, through TraceWriter). The copy
 * costs one decode and encode of the events, far less than parsing the
 * capture twice. The provisional trace is a scratch file of this process
 * (src/util/temporary-files.ts: a name of its own, removed whatever
 * happens), so two imports to one OUT never share it, and a killed import
 * leaves nothing behind.
 */
export class ImportTrace implements SealableTrace {
  readonly builder: GuestBatchBuilder;
  private readonly provisionalPath: string;
  private provisional: TraceWriter | undefined;
  private final: TraceWriter | undefined;

  constructor(
    readonly out: string,
    /** The header as far as it is known at the start (guest, chunking, workload name and seed). */
    readonly header: TraceHeader,
  ) {
    this.provisionalPath = createScratchFile(out);
    try {
      // Raw columns: the provisional trace is written and read back once, so
      // it is stored in the encoding that costs least to do both.
      this.provisional = new TraceWriter(this.provisionalPath, { ...header, encoding: 'fast' });
    } catch (e) {
      removeTemporary(this.provisionalPath);
      throw e;
    }
    const w = this.provisional;
    this.builder = new GuestBatchBuilder((b) => w.writeGuestBatch(b), header.chunkEvents);
  }

  /**
   * Flushes the events and writes OUT with `header` (which must describe
   * the same guest and chunking as the provisional one) and the footer's
   * workload stats. Returns the final footer and file size.
   */
  seal(header: TraceHeader, workloadStats: Readonly<Record<string, number>>): { footer: TraceFooter; fileBytes: number } {
    this.builder.flush();
    this.provisional!.finish();
    this.provisional = undefined;
    const final = new TraceWriter(this.out, header);
    this.final = final;
    const reader = TraceReader.open(this.provisionalPath, { verifyDigest: false });
    try {
      reader.forEachChunk((c) => {
        if (c.stream === 'guest') final.writeGuestBatch(c.batch);
      });
    } finally {
      reader.close();
    }
    const footer = final.finish({ workloadStats });
    this.final = undefined;
    removeTemporary(this.provisionalPath);
    return { footer, fileBytes: final.fileBytes };
  }

  /** Drops everything written; OUT is untouched. Safe to call twice. */
  abort(): void {
    this.provisional?.abort();
    this.provisional = undefined;
    this.final?.abort();
    this.final = undefined;
    removeTemporary(this.provisionalPath);
  }
}

/**
 * The other way to get a complete header first: when it can be known
 * before the capture is through (a worker thread is hashing the file and
 * counting its length), the events are held in memory until it is, then
 * written straight to OUT, with no second copy. Memory stays bounded: past
 * `maxHeldBytes` of held events, the importer waits for the header. A
 * small capture whose header is known only at its end is held whole (its
 * events are few).
 */
export class DeferredTrace implements SealableTrace {
  readonly builder: GuestBatchBuilder;
  private writer: TraceWriter | undefined;
  private held: GuestBatch[] = [];
  private heldBytes = 0;
  private done = false;

  /**
   * `ready()` returns the header once it is known (without waiting);
   * `waitReady()` waits for it (or returns undefined when it can only be
   * known at the end).
   */
  constructor(
    readonly out: string,
    chunkEvents: number,
    private readonly ready: () => TraceHeader | undefined,
    private readonly waitReady: () => TraceHeader | undefined,
    private readonly maxHeldBytes = 64 * 1024 * 1024,
  ) {
    this.builder = new GuestBatchBuilder((b) => this.accept(b), chunkEvents);
  }

  private accept(b: GuestBatch): void {
    if (!this.writer) {
      const h = this.ready() ?? (this.heldBytes >= this.maxHeldBytes ? this.waitReady() : undefined);
      if (h) this.open(h);
    }
    if (this.writer) this.writer.writeGuestBatch(b);
    else {
      this.held.push(copyGuestBatch(b));
      this.heldBytes += b.count * BYTES_PER_EVENT;
    }
  }

  private open(header: TraceHeader): void {
    const w = new TraceWriter(this.out, header);
    this.writer = w;
    for (const b of this.held) w.writeGuestBatch(b);
    this.held = [];
    this.heldBytes = 0;
  }

  /** Flushes the events and writes the footer; `header` is used if none was opened yet. */
  seal(header: TraceHeader, workloadStats: Readonly<Record<string, number>>): { footer: TraceFooter; fileBytes: number } {
    this.builder.flush();
    if (!this.writer) this.open(header);
    const footer = this.writer!.finish({ workloadStats });
    this.done = true;
    return { footer, fileBytes: this.writer!.fileBytes };
  }

  /** The header the trace was opened with (undefined while events are held). */
  get openedHeader(): TraceHeader | undefined {
    return this.writer?.header;
  }

  /** Drops everything written; OUT is untouched. */
  abort(): void {
    if (!this.done) this.writer?.abort();
    this.writer = undefined;
    this.held = [];
  }
}

/** Bytes a held event takes (its six columns). */
const BYTES_PER_EVENT = 1 + 4 + 2 + 4 + 4 + 4;
