import { readFileSync, writeFileSync } from 'node:fs';
import { Packr, Unpackr } from 'msgpackr';
import { frameHead, frameTail, FRAME_HEAD_BYTES, FRAME_TAIL_BYTES, TRACE_MAGIC } from '../../src/trace/trace-frame.js';
import { traceCodecOptions } from '../../src/trace/trace-writer.js';

/** Byte offsets of a trace's records: where each frame starts, and the file's end. */
export function recordBoundaries(bytes: Uint8Array): number[] {
  const out: number[] = [];
  let at = TRACE_MAGIC.length;
  const view = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length);
  while (at < bytes.length) {
    out.push(at);
    at += FRAME_HEAD_BYTES + view.readUInt32BE(at + 1) + FRAME_TAIL_BYTES;
  }
  out.push(bytes.length);
  return out;
}

/** Decodes every record of a trace file (for tests that tamper with one, checksums intact). */
export function readRecords(file: string): Record<string, unknown>[] {
  const bytes = readFileSync(file);
  const un = new Unpackr(traceCodecOptions());
  const b = recordBoundaries(bytes);
  return b.slice(0, -1).map((at) => un.unpack(bytes.subarray(at + FRAME_HEAD_BYTES, at + FRAME_HEAD_BYTES + bytes.readUInt32BE(at + 1))));
}

/** Writes records back as a well-framed trace with valid checksums. */
export function writeRecords(file: string, records: readonly object[]): void {
  const packr = new Packr(traceCodecOptions());
  const parts: Buffer[] = [TRACE_MAGIC];
  for (const r of records) {
    const payload = Buffer.from(packr.pack(r));
    parts.push(frameHead(payload.length), payload, frameTail(payload));
  }
  writeFileSync(file, Buffer.concat(parts));
}
