import type { Hash } from 'node:crypto';
import { crc32 } from 'node:zlib';

/**
 * Byte layout of a trace file. The whole file is a valid msgpack stream:
 *
 *   magic   str8-less fixstr "migsim-trace"      (0xac + 12 bytes)
 *   record  bin32 holding one msgpack record     (0xc6, u32 BE length, payload)
 *           uint32 CRC-32 of that payload        (0xce, u32 BE crc)
 *   ...
 *
 * Framing each record as a bin with its CRC gives the reader exact record
 * boundaries and byte offsets for its errors, lets it stream in bounded
 * memory, and catches every single-byte corruption: CRC-32 detects all
 * bursts up to 32 bits, and the footer's digest re-checks the decoded events.
 */
export const TRACE_MAGIC = Buffer.from([0xac, ...Buffer.from('migsim-trace', 'ascii')]);
export const FRAME_HEAD_BYTES = 5;
export const FRAME_TAIL_BYTES = 5;
const BIN32 = 0xc6;
const UINT32 = 0xce;

/** Records larger than this are taken as a corrupted length, not allocated. */
export const MAX_RECORD_BYTES = 256 * 1024 * 1024;

export function frameHead(payloadBytes: number): Buffer {
  const b = Buffer.allocUnsafe(FRAME_HEAD_BYTES);
  b[0] = BIN32;
  b.writeUInt32BE(payloadBytes, 1);
  return b;
}

export function frameTail(payload: Uint8Array): Buffer {
  const b = Buffer.allocUnsafe(FRAME_TAIL_BYTES);
  b[0] = UINT32;
  b.writeUInt32BE(crc32(payload), 1);
  return b;
}

export type FrameHeadCheck = { ok: true; payloadBytes: number } | { ok: false; problem: string };

export function readFrameHead(buf: Uint8Array, at: number): FrameHeadCheck {
  if (buf[at] !== BIN32) return { ok: false, problem: `expected a record (0xc6) but found byte 0x${hex(buf[at]!)}` };
  const len = u32be(buf, at + 1);
  if (len > MAX_RECORD_BYTES) return { ok: false, problem: `record length ${len} is beyond any record migsim writes` };
  return { ok: true, payloadBytes: len };
}

export function checkFrameTail(buf: Uint8Array, at: number, payload: Uint8Array): string | undefined {
  if (buf[at] !== UINT32) return `expected the record's checksum (0xce) but found byte 0x${hex(buf[at]!)}`;
  const stored = u32be(buf, at + 1);
  const actual = crc32(payload);
  if (stored !== actual) return `checksum mismatch (stored ${hex32(stored)}, computed ${hex32(actual)})`;
  return undefined;
}

function u32be(buf: Uint8Array, at: number): number {
  return ((buf[at]! << 24) >>> 0) + (buf[at + 1]! << 16) + (buf[at + 2]! << 8) + buf[at + 3]!;
}

function hex(b: number): string {
  return b.toString(16).padStart(2, '0');
}

function hex32(v: number): string {
  return v.toString(16).padStart(8, '0');
}

/**
 * msgpackr options for every record. `moreTypes` keeps typed arrays typed
 * (without it a Uint32Array is silently written as bytes); `useRecords:
 * false` writes plain maps, so the bytes depend on the record alone and not
 * on what the packer saw before. A fresh options object per packer: msgpackr
 * mutates the one it is given.
 */
export function traceCodecOptions() {
  return { moreTypes: true, useRecords: false, mapsAsObjects: true, variableMapSize: true } as const;
}

/**
 * The footer's fileDigest: the hash of the bytes before the footer, then of
 * the footer's event digest (its hex), so that the one field of the footer
 * nothing else checks is covered too (src/trace/trace-reader.ts).
 */
export function fileDigestOf(bytesBeforeFooter: Hash, eventDigest: string): string {
  return bytesBeforeFooter.update(eventDigest, 'latin1').digest('hex');
}
