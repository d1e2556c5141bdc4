import type { Hash } from 'node:crypto';
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { Unpackr } from 'msgpackr';
import { withPath } from '../util/io-error.js';
import { unpackViewingBytes } from './byte-views.js';
import { checkFrameTail, FRAME_HEAD_BYTES, FRAME_TAIL_BYTES, readFrameHead, traceCodecOptions } from './trace-frame.js';

/**
 * A defect of a record's framing or msgpack, as plain data: the reader
 * turns it into a TraceError naming the file (src/trace/trace-reader.ts),
 * whichever thread found it (src/trace/read-ahead.ts posts it across).
 */
export class RecordProblem {
  constructor(
    readonly problem: string,
    readonly at: number,
    readonly record?: string,
    readonly hint?: string,
  ) {}
}

/** One record as read: its msgpack decoded, where it starts and how many bytes it takes, frame and all. */
export interface FileRecord {
  readonly rec: Record<string, unknown>;
  readonly at: number;
  readonly totalBytes: number;
}

/**
 * The records of a trace file, read in blocks of `blockBytes` and checked
 * one at a time (frame, length, CRC, msgpack): the part of reading a trace
 * that knows nothing of chunks. Used by the reader on its own thread, and by
 * the read-ahead thread (src/trace/read-ahead-worker.ts), so both find the
 * same defects in the same words. `hash`, if given, is fed every record
 * before the footer, frame and all (the fileDigest of a version 2 or 3 footer).
 */
export class RecordFile {
  readonly fileBytes: number;
  private fd: number | undefined;
  private buf: Buffer;
  private bufStart = 0; // file offset of buf[0]
  private bufLen = 0;
  private readonly unpackr = new Unpackr(traceCodecOptions());

  constructor(
    readonly path: string,
    blockBytes: number,
    private hash: Hash | undefined,
  ) {
    try {
      this.fd = openSync(path, 'r');
      this.fileBytes = fstatSync(this.fd).size;
    } catch (e) {
      this.close();
      throw withPath(e, path, 'read');
    }
    this.buf = Buffer.allocUnsafe(blockBytes);
  }

  /** Stops feeding the hash (a version 1 trace has no file digest). */
  dropHash(): void {
    this.hash = undefined;
  }

  /** Bytes [at, at + n) of the file, or fewer where the file ends first. */
  bytes(at: number, n: number): Buffer {
    this.ensure(at, n);
    const from = at - this.bufStart;
    return this.buf.subarray(from, Math.min(from + n, this.bufLen));
  }

  /** Feeds the hash bytes that are not a record (the magic). */
  hashBytes(b: Uint8Array): void {
    this.hash?.update(b);
  }

  /**
   * Reads and checks the framed record at `at`, and decodes its msgpack.
   * `recordNo` is its number in the file (the header is 0) and
   * `chunksBefore` the chunks read before it: they name where a file that
   * ends there was cut. Throws RecordProblem, or the file system's error.
   */
  read(at: number, where: string, recordNo: number, chunksBefore: number): FileRecord {
    if (at >= this.fileBytes) {
      const after = recordNo === 0 ? 'the file ends before its header' : chunksBefore === 0 ? 'after the header (no chunks, no footer)' : `after chunk ${chunksBefore - 1} (no footer)`;
      throw new RecordProblem(`truncated: ${after}`, at, undefined, 'the recording was interrupted; record it again');
    }
    this.ensure(at, FRAME_HEAD_BYTES);
    if (this.bufEnd() - at < FRAME_HEAD_BYTES) throw this.truncated(where, at);
    const head = readFrameHead(this.buf, at - this.bufStart);
    if (!head.ok) throw new RecordProblem(head.problem, at, where, 'the file is corrupted');
    const total = FRAME_HEAD_BYTES + head.payloadBytes + FRAME_TAIL_BYTES;
    this.ensure(at, total);
    if (this.bufEnd() - at < total) throw this.truncated(where, at);
    const p0 = at - this.bufStart + FRAME_HEAD_BYTES;
    const payload = this.buf.subarray(p0, p0 + head.payloadBytes);
    const bad = checkFrameTail(this.buf, p0 + head.payloadBytes, payload);
    if (bad) throw new RecordProblem(bad, at, where, 'the file is corrupted');
    let rec: unknown;
    try {
      // Columns are views of this block, read before the next record is (byte-views.ts).
      rec = unpackViewingBytes(this.unpackr, payload);
    } catch (e) {
      throw new RecordProblem(`record does not decode: ${(e as Error).message}`, at, where, 'the file is corrupted');
    }
    if (typeof rec !== 'object' || rec === null || Array.isArray(rec)) throw new RecordProblem('record is not a map', at, where);
    // The file digest covers every record before the footer, frame and all.
    if (this.hash && (rec as Record<string, unknown>)['type'] !== 'footer') this.hash.update(this.buf.subarray(at - this.bufStart, at - this.bufStart + total));
    return { rec: rec as Record<string, unknown>, at, totalBytes: total };
  }

  /**
   * Where the record after the one at `at` starts, from its frame head
   * alone (no CRC, no msgpack): the way to the footer without decoding what
   * lies before it. Undefined where no frame head is there.
   */
  nextRecordAt(at: number): number | undefined {
    if (at >= this.fileBytes) return undefined;
    this.ensure(at, FRAME_HEAD_BYTES);
    if (this.bufEnd() - at < FRAME_HEAD_BYTES) return undefined;
    const head = readFrameHead(this.buf, at - this.bufStart);
    return head.ok ? at + FRAME_HEAD_BYTES + head.payloadBytes + FRAME_TAIL_BYTES : undefined;
  }

  close(): void {
    if (this.fd !== undefined) {
      closeSync(this.fd);
      this.fd = undefined;
    }
  }

  private truncated(where: string, at: number): RecordProblem {
    return new RecordProblem(`truncated: ${where} is cut short (the file ends at byte ${this.fileBytes.toLocaleString('en-US')})`, at, undefined, 'the recording was interrupted; record it again');
  }

  private bufEnd(): number {
    return this.bufStart + this.bufLen;
  }

  /** Makes bytes [at, at + n) available in buf, as far as the file has them. */
  private ensure(at: number, n: number): void {
    if (at >= this.bufStart && at + n <= this.bufEnd()) return;
    if (n > this.buf.length) this.buf = Buffer.allocUnsafe(Math.max(n, this.buf.length * 2));
    const want = Math.min(this.buf.length, this.fileBytes - at);
    let got = 0;
    try {
      while (got < want) {
        const r = readSync(this.fd!, this.buf, got, want - got, at + got);
        if (r === 0) break;
        got += r;
      }
    } catch (e) {
      // A read by descriptor names no file: the user is told which (EIO mid-file, say).
      throw withPath(e, this.path, 'read');
    }
    this.bufStart = at;
    this.bufLen = got;
  }
}
