import { PackedMode, unpredict } from './packed-codec.js';

/**
 * The compact columns of trace format version 3 (issue 16 item 3): a
 * column's residuals under one predictor (packed-codec.ts `residuals`:
 * raw, delta or by kind, zigzagged) stored little-endian at the narrowest
 * byte width that holds every one of them in the chunk (1, 2 or 4 bytes),
 * then Zstandard. The column records its predictor (`m`) and width (`w`).
 *
 * Why bytes and not version 2's bit-packed blocks: Zstandard finds the
 * repeats (apache's requests touch the same pages in the same order) in
 * whole bytes better than in bit-packed ones, and a byte width is undone
 * by one native widening copy (TypedArray.set) where bit-unpacking is a
 * shift loop per value. Measured (bench/codec-prototype.ts, CPU time, one
 * thread, 60 s of apache): 1.79 bytes and 17.2 ns an event to decode
 * against 2.19 bytes and 29.4 ns for version 2's packed + zstd 1; the
 * random 4 GiB muncher 1.23 bytes and 9.3 ns against 1.50 and 15.3.
 * 12.5 of the 17 ns are Zstandard's own inflate (zstd-inflater.ts).
 *
 * Little-endian is the byte order of every platform Node runs migsim on
 * (x86-64, arm64); the typed-array views below assume it, as packed-codec's
 * aligned words do.
 */
export type ByteWidth = 1 | 2 | 4;

export class ByteResidualError extends Error {
  override readonly name = 'ByteResidualError';
}

/** The narrowest byte width holding each of `count` residuals (u32 bit patterns): one OR over them. */
export function byteWidthOf(r: Int32Array, count: number): ByteWidth {
  let or = 0;
  for (let i = 0; i < count; i++) or |= r[i]!;
  return (or & ~0xff) === 0 ? 1 : (or & ~0xffff) === 0 ? 2 : 4;
}

/**
 * The residuals as `w`-byte little-endian values, written into `out`
 * (at least count * w bytes, 4-byte aligned); returns the bytes used, a
 * view of `out`. The narrowing is TypedArray.set's (modulo 2^8w), exact
 * since byteWidthOf said every residual fits.
 */
export function residualBytes(r: Int32Array, count: number, w: ByteWidth, out: Uint8Array): Uint8Array {
  const src = r.subarray(0, count);
  if (w === 1) out.set(src);
  else if (w === 2) new Uint16Array(out.buffer, out.byteOffset, count).set(src);
  else new Int32Array(out.buffer, out.byteOffset, count).set(src);
  return out.subarray(0, count * w);
}

/** A reused aligned copy of a payload that does not start on its width (a stored column inside a msgpack record). */
let alignedScratch = new Int32Array(0);

/**
 * Decodes `count` values of width `w` and predictor `mode` from `bytes`
 * (exactly count * w of them, checked by the caller) into `out`, an Int32
 * view of the column (a 32-bit column's own bytes, or a scratch the caller
 * narrows). Tight typed-array loops: the widening is TypedArray.set, the
 * predictor undone in place (packed-codec.ts `unpredict`).
 */
export function decodeResidualBytes(bytes: Uint8Array, w: ByteWidth, mode: PackedMode, count: number, out: Int32Array, kinds: Uint8Array | undefined): void {
  let b = bytes;
  if (w > 1 && b.byteOffset % w !== 0) {
    if (alignedScratch.length * 4 < count * w) alignedScratch = new Int32Array(Math.max(count, 2 * alignedScratch.length));
    const copy = new Uint8Array(alignedScratch.buffer, 0, count * w);
    copy.set(b);
    b = copy;
  }
  if (w === 1) out.set(b.subarray(0, count));
  else if (w === 2) out.set(new Uint16Array(b.buffer, b.byteOffset, count));
  else out.set(new Int32Array(b.buffer, b.byteOffset, count));
  if (mode !== PackedMode.raw) unpredict(out, count, mode, kinds);
}
