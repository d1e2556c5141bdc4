/**
 * Frame-of-reference bit packing with patched exceptions ("PFOR"), the
 * packed column codec: a column is first turned into small unsigned
 * residuals by a predictor, then stored in blocks of BLOCK values, each
 * block at the one bit width w that makes it smallest, the few values
 * wider than w kept as exceptions (their index and high bits) beside it.
 * A block of zeros (a run of correct predictions) costs its two header
 * bytes.
 *
 * Decoding is a branch-free loop per block: one unaligned little-endian
 * 32-bit load per value (DataView), a shift and a mask, then the
 * exceptions patched in and the predictor undone in a second tight loop.
 * No general-purpose decompressor runs, so reading is bound by memory
 * and these loops, not by an entropy decoder (issue 16: Brotli took 37%
 * of a read).
 *
 * Predictors (PackedMode):
 *   raw:   the value itself (its 32 bits, unsigned)
 *   delta: the difference from the previous value, zigzagged
 *   kind:  the difference from the previous value of an event of the same
 *          kind in the chunk, zigzagged. Pages, PTEs and store sizes of one
 *          kind follow each other (a pt_write's PTE names the next frame,
 *          reads walk a buffer), while the kinds interleave: apache's
 *          pages cost 2.2 bytes an event this way against 2.9 with delta.
 *
 * Payload layout (all per chunk column):
 *   per block, 2 bytes: width w (0 to 32), exception count e (0 to BLOCK-1)
 *   per block: its values' low w bits, least significant bit first, from
 *       the block's first whole byte
 *   per block with e > 0, e times: index in the block (1 byte), then the
 *       value's bits above w as a LEB128 varint
 * The headers alone say where each block's bits are; the exceptions come
 * last, read once, as they are patched in.
 */
export const BLOCK = 128;

export const PackedMode = { raw: 0, delta: 1, kind: 2 } as const;
export type PackedMode = (typeof PackedMode)[keyof typeof PackedMode];

export class PackedCodecError extends Error {
  override readonly name = 'PackedCodecError';
}

/** Residuals of a column under a predictor (u32 bit patterns in an Int32Array). */
export function residuals(values: Int32Array, count: number, mode: PackedMode, kinds: Uint8Array | undefined, out: Int32Array): void {
  if (mode === PackedMode.raw) {
    out.set(values.subarray(0, count));
    return;
  }
  if (mode === PackedMode.delta) {
    let prev = 0;
    for (let i = 0; i < count; i++) {
      const v = values[i]!;
      const d = (v - prev) | 0;
      out[i] = (d << 1) ^ (d >> 31);
      prev = v;
    }
    return;
  }
  const last = lastByKind();
  const k = kinds!;
  for (let i = 0; i < count; i++) {
    const v = values[i]!;
    const c = k[i]!;
    const d = (v - last[c]!) | 0;
    out[i] = (d << 1) ^ (d >> 31);
    last[c] = v;
  }
}

/** Undoes `residuals` in place: `r` holds residuals, and then values. */
export function unpredict(r: Int32Array, count: number, mode: PackedMode, kinds: Uint8Array | undefined): void {
  if (mode === PackedMode.raw) return;
  if (mode === PackedMode.delta) {
    let prev = 0;
    for (let i = 0; i < count; i++) {
      const z = r[i]!;
      prev = (prev + ((z >>> 1) ^ -(z & 1))) | 0;
      r[i] = prev;
    }
    return;
  }
  const last = lastByKind();
  const k = kinds!;
  for (let i = 0; i < count; i++) {
    const z = r[i]!;
    const c = k[i]!;
    const v = (last[c]! + ((z >>> 1) ^ -(z & 1))) | 0;
    last[c] = v;
    r[i] = v;
  }
}

const lastScratch = new Int32Array(256);
function lastByKind(): Int32Array {
  lastScratch.fill(0);
  return lastScratch;
}

const hist = new Int32Array(33);

/** Bit length of an unsigned 32-bit value held in an Int32. */
function bitLength(z: number): number {
  return 32 - Math.clz32(z);
}

/**
 * The widths a block may take. `fine`: any, the smallest packing. `bytes`:
 * 0, 1, 2 and 4 bits, or whole bytes: each value (or run of values) starts
 * on a byte, so that a sequence of residuals that repeats (apache's
 * requests touch the same pages in the same order) repeats as bytes too,
 * for Zstandard to find (column-codec.ts tries both).
 */
export type WidthSet = 'fine' | 'bytes';
const ALLOWED: Record<WidthSet, Uint8Array> = {
  fine: new Uint8Array(33).fill(1),
  bytes: Uint8Array.from({ length: 33 }, (_, w) => (w <= 2 || w === 4 || w % 8 === 0 ? 1 : 0)),
};

/**
 * The width of `set` that stores values [from, to) of `r` in the fewest
 * bytes: the packed bits plus, for each wider value, its index and its
 * high bits as a varint.
 */
function bestWidth(r: Int32Array, from: number, to: number, allowed: Uint8Array): number {
  hist.fill(0);
  for (let i = from; i < to; i++) hist[bitLength(r[i]!)]!++;
  let maxLen = 32;
  while (maxLen > 0 && hist[maxLen] === 0) maxLen--;
  if (maxLen === 0) return 0;
  const n = to - from;
  let best = maxLen;
  while (allowed[best] === 0) best++;
  let bestBytes = Math.ceil((n * best) / 8);
  // Walk w down from the widest value, the values longer than w becoming
  // exceptions: each costs its index and ceil((len - w) / 7) varint bytes.
  // Their cost only grows as w falls: once it alone passes the best, stop.
  let exceptions = 0;
  for (let w = maxLen - 1; w >= 0; w--) {
    exceptions += hist[w + 1]!;
    if (exceptions >= BLOCK) break;
    let extra = 0;
    for (let len = w + 1; len <= maxLen; len++) extra += hist[len]! * (1 + Math.ceil((len - w) / 7));
    if (extra >= bestBytes) break;
    if (allowed[w] === 0) continue;
    const bytes = Math.ceil((n * w) / 8) + extra;
    if (bytes < bestBytes) {
      bestBytes = bytes;
      best = w;
    }
  }
  return best;
}

/**
 * Packs `count` residuals into `out` (at least packedBound(count) bytes);
 * returns the length used.
 */
export function packResiduals(r: Int32Array, count: number, out: Uint8Array, widths: WidthSet = 'fine'): number {
  const allowed = ALLOWED[widths];
  const blocks = Math.ceil(count / BLOCK);
  let o = 2 * blocks;
  // Headers and packed bits.
  for (let b = 0; b < blocks; b++) {
    const from = b * BLOCK;
    const to = Math.min(count, from + BLOCK);
    const w = bestWidth(r, from, to, allowed);
    out[2 * b] = w;
    if (w > 0) o = w <= 24 ? packNarrow(r, from, to, w, out, o) : packWide(r, from, to, w, out, o);
  }
  // Exceptions: the bits above the block's width of each value wider than it.
  for (let b = 0; b < blocks; b++) {
    const from = b * BLOCK;
    const to = Math.min(count, from + BLOCK);
    const w = out[2 * b]!;
    let e = 0;
    if (w < 32) {
      for (let i = from; i < to; i++) {
        let hi = r[i]! >>> w;
        if (hi === 0) continue;
        out[o++] = i - from;
        while (hi >= 0x80) {
          out[o++] = (hi & 0x7f) | 0x80;
          hi >>>= 7;
        }
        out[o++] = hi;
        e++;
      }
    }
    out[2 * b + 1] = e;
  }
  return o;
}

/** Values of at most 24 bits: the pending bits (at most 7 + 24) fit an int. */
function packNarrow(r: Int32Array, from: number, to: number, w: number, out: Uint8Array, o: number): number {
  const mask = (1 << w) - 1;
  let acc = 0;
  let nacc = 0;
  for (let i = from; i < to; i++) {
    acc |= (r[i]! & mask) << nacc;
    nacc += w;
    while (nacc >= 8) {
      out[o++] = acc & 0xff;
      acc >>>= 8;
      nacc -= 8;
    }
  }
  if (nacc > 0) out[o++] = acc & 0xff;
  return o;
}

/** Values of 25 to 32 bits: the pending bits kept in a double. */
function packWide(r: Int32Array, from: number, to: number, w: number, out: Uint8Array, o: number): number {
  const mask = w === 32 ? -1 : (1 << w) - 1;
  let acc = 0;
  let nacc = 0;
  for (let i = from; i < to; i++) {
    acc += ((r[i]! & mask) >>> 0) * 2 ** nacc;
    nacc += w;
    while (nacc >= 8) {
      out[o++] = acc % 256;
      acc = Math.floor(acc / 256);
      nacc -= 8;
    }
  }
  if (nacc > 0) out[o++] = acc % 256;
  return o;
}

/** Bytes `packResiduals` may need for `count` values. */
export function packedBound(count: number): number {
  const blocks = Math.ceil(count / BLOCK);
  return 2 * blocks + count * 6 + count * 4;
}

/** Reused words the packed bits are copied into: aligned, so each value is read from at most two of them. */
let words = new Uint32Array(0);

/**
 * Unpacks `count` residuals from `bytes` into `out`. Throws
 * PackedCodecError on a payload that does not hold exactly that many.
 */
export function unpackResiduals(bytes: Uint8Array, count: number, out: Int32Array): void {
  unpackValues(bytes, count, out, PackedMode.raw, undefined);
}

/**
 * Unpacks `count` values from `bytes` into `out`: the residuals, their
 * exceptions patched in and the predictor undone, block by block, so each
 * block is finished while it is in the first-level cache (one pass over the
 * column, not three). Throws PackedCodecError on a payload that does not
 * hold exactly that many, at the first defect in block order (as unpacking
 * all, then patching all, would find it).
 */
export function unpackValues(bytes: Uint8Array, count: number, out: Int32Array, mode: PackedMode, kinds: Uint8Array | undefined): void {
  const blocks = Math.ceil(count / BLOCK);
  const n = bytes.length;
  const head = 2 * blocks;
  if (n < head) throw new PackedCodecError(`packed column of ${n} bytes is too short for ${count} values`);
  let packedBytes = 0;
  for (let b = 0; b < blocks; b++) {
    const w = bytes[2 * b]!;
    const e = bytes[2 * b + 1]!;
    if (w > 32 || e >= BLOCK || (e > 0 && w === 32)) throw new PackedCodecError(`packed block ${b} has width ${w} and ${e} exceptions`);
    packedBytes += Math.ceil((Math.min(BLOCK, count - b * BLOCK) * w) / 8);
  }
  if (head + packedBytes > n) throw new PackedCodecError(`packed column holds ${n} bytes, fewer than the ${head + packedBytes} its ${count} values take`);
  // The bits, copied into aligned words (two zero words after them for
  // the last values' second word).
  const wordsNeeded = (packedBytes >>> 2) + 2;
  if (words.length < wordsNeeded) words = new Uint32Array(Math.max(wordsNeeded, 2 * words.length));
  words.fill(0, packedBytes >>> 2, wordsNeeded);
  new Uint8Array(words.buffer, 0, packedBytes).set(bytes.subarray(head, head + packedBytes));
  const last = mode === PackedMode.kind ? lastByKind() : lastScratch;
  let prev = 0;
  let bit = 0;
  let o = head + packedBytes;
  for (let b = 0; b < blocks; b++) {
    const w = bytes[2 * b]!;
    const e = bytes[2 * b + 1]!;
    const from = b * BLOCK;
    const to = Math.min(count, from + BLOCK);
    // A block's bits are 16w bytes: every whole block starts on a word.
    if (w === 0 && e === 0) {
      // Every prediction right (most of apache's PTE blocks, the random
      // muncher's pages of reads): the values are the predictions.
      if (mode === PackedMode.kind) sameAsKind(out, from, to, kinds!, last);
      else out.fill(mode === PackedMode.delta ? prev : 0, from, to);
      continue;
    }
    if (w === 0) out.fill(0, from, to);
    else if ((32 % w) === 0) unpackAligned(words, bit >>> 5, w, out, from, to);
    else unpackBlock(words, bit, w, out, from, to);
    if (e > 0) o = patchExceptions(bytes, o, b, e, w, out, to - from);
    if (mode === PackedMode.delta) prev = undeltaBlock(out, from, to, prev);
    else if (mode === PackedMode.kind) unkindBlock(out, from, to, kinds!, last);
    bit += Math.ceil(((to - from) * w) / 8) * 8;
  }
  if (o !== n) throw new PackedCodecError(`packed column holds ${n} bytes, not the ${o} its ${count} values take`);
}

/** Undoes the delta predictor over one block, from the value before it; returns the block's last value. */
function undeltaBlock(r: Int32Array, from: number, to: number, prev: number): number {
  for (let i = from; i < to; i++) {
    const z = r[i]!;
    prev = (prev + ((z >>> 1) ^ -(z & 1))) | 0;
    r[i] = prev;
  }
  return prev;
}

/**
 * Undoes the kind predictor over one block, `last` holding each kind's
 * value before it. Each value goes through last[] in memory: a register
 * for the current kind (a branch at each change of kind) was 10% slower
 * on apache, whose kinds interleave (mispredicted branches cost more than
 * a store-to-load forward when one kind repeats).
 */
function unkindBlock(r: Int32Array, from: number, to: number, k: Uint8Array, last: Int32Array): void {
  for (let i = from; i < to; i++) {
    const c = k[i]!;
    const z = r[i]!;
    const v = (last[c]! + ((z >>> 1) ^ -(z & 1))) | 0;
    last[c] = v;
    r[i] = v;
  }
}

/** A block of the kind predictor whose every prediction was right: each value is its kind's last. */
function sameAsKind(r: Int32Array, from: number, to: number, k: Uint8Array, last: Int32Array): void {
  for (let i = from; i < to; i++) r[i] = last[k[i]!]!;
}

/**
 * Values of a width that divides 32 (1, 2, 4, 8, 16, 32: most of apache's
 * blocks), from word `x`: no value straddles two words, so each word is
 * loaded once and shifted down value by value.
 */
function unpackAligned(words: Uint32Array, x: number, w: number, out: Int32Array, from: number, to: number): void {
  if (w === 16) {
    let i = from;
    for (; i + 2 <= to; i += 2) {
      const v = words[x++]!;
      out[i] = v & 0xffff;
      out[i + 1] = v >>> 16;
    }
    if (i < to) out[i] = words[x]! & 0xffff;
    return;
  }
  if (w === 8) {
    let i = from;
    for (; i + 4 <= to; i += 4) {
      const v = words[x++]!;
      out[i] = v & 0xff;
      out[i + 1] = (v >>> 8) & 0xff;
      out[i + 2] = (v >>> 16) & 0xff;
      out[i + 3] = v >>> 24;
    }
    for (let v = words[x]!; i < to; i++, v >>>= 8) out[i] = v & 0xff;
    return;
  }
  if (w === 32) {
    for (let i = from; i < to; i++) out[i] = words[x++]! | 0;
    return;
  }
  const mask = (1 << w) - 1;
  const per = 32 / w;
  let i = from;
  while (i < to) {
    let v = words[x++]!;
    const end = Math.min(to, i + per);
    for (; i < end; i++, v >>>= w) out[i] = v & mask;
  }
}

/**
 * Adds the high bits of block b's e exceptions, read from `at`, above the
 * block's w bits; returns where they end (past the payload if it is cut
 * short: the caller compares). Integer arithmetic throughout: a high part
 * must fit in 32 - w bits.
 */
function patchExceptions(bytes: Uint8Array, at: number, b: number, e: number, w: number, out: Int32Array, len: number): number {
  let o = at;
  const from = b * BLOCK;
  // Most high parts are one byte (7 bits), which fit above any w up to 25.
  const oneByteFits = w <= 25;
  for (let x = 0; x < e; x++) {
    const i = bytes[o++]!;
    if (!(i < len)) throw new PackedCodecError(`packed block ${b} has an exception at ${i}, past its ${len} values`);
    let c = bytes[o++]!;
    if (c < 0x80 && oneByteFits) {
      out[from + i] = out[from + i]! | (c << w);
      continue;
    }
    let hi = c & 0x7f;
    let shift = 7;
    while (c >= 0x80) {
      if (shift > 28) throw new PackedCodecError(`packed block ${b} has a malformed exception`);
      c = bytes[o++]!;
      hi |= (c & 0x7f) << shift;
      shift += 7;
    }
    // Bits the value cannot hold: above bit 31 (a fifth byte over 0xf), or above 32 - w.
    if ((shift === 35 && c > 0xf) || (w > 0 && hi >>> (32 - w) !== 0)) throw new PackedCodecError(`packed block ${b} has an exception of more than 32 bits`);
    out[from + i] = out[from + i]! | (hi << w);
  }
  return o;
}

/**
 * Values of w bits from bit `bit` of `words`: the word holding a value's
 * first bit, shifted down, and the next word's low bits shifted up above
 * it ((x << 1) << (31 - s): JavaScript shifts by 32 are shifts by 0).
 */
function unpackBlock(words: Uint32Array, bit: number, w: number, out: Int32Array, from: number, to: number): void {
  const mask = w === 32 ? -1 : (1 << w) - 1;
  for (let i = from; i < to; i++) {
    const x = bit >>> 5;
    const s = bit & 31;
    out[i] = ((words[x]! >>> s) | ((words[x + 1]! << 1) << (31 - s))) & mask;
    bit += w;
  }
}
