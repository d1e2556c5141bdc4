// Checks the packed column codec (src/trace/packed-codec.ts): any residuals
// come back exactly at either width set, each predictor is undone exactly,
// the sizes follow from the layout, and a damaged payload is refused with
// PackedCodecError rather than read past or decoded to other values; a
// Zstandard frame is bounded from its headers before it is decompressed.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ColumnCodecError, ColumnEncoder, decodeColumn } from '../../src/trace/column-codec.js';
import { GUEST_COLUMN_SPECS } from '../../src/trace/column-specs.js';
import { zstdFrameSizes } from '../../src/trace/zstd-frame.js';
import { BLOCK, PackedCodecError, PackedMode, packedBound, packResiduals, residuals, unpackResiduals, unpackValues, unpredict } from '../../src/trace/packed-codec.js';

function pack(r: Int32Array, widths: 'fine' | 'bytes' = 'fine'): Uint8Array {
  const out = new Uint8Array(packedBound(r.length));
  return out.slice(0, packResiduals(r, r.length, out, widths));
}

function unpack(bytes: Uint8Array, count: number): Int32Array {
  const out = new Int32Array(count);
  unpackResiduals(bytes, count, out);
  return out;
}

/** Values of mixed bit lengths: runs of zeros, small values, a few of any width (the exceptions). */
const residualArb = fc.oneof(
  { weight: 3, arbitrary: fc.constant(0) },
  { weight: 5, arbitrary: fc.integer({ min: 0, max: 255 }) },
  { weight: 1, arbitrary: fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 }) },
);

describe('packed codec', () => {
  it('unpacking gives back every residual packed, at any width set, for any 32-bit values and lengths across blocks', () => {
    fc.assert(
      fc.property(fc.array(residualArb, { maxLength: 3 * BLOCK + 7 }), fc.constantFrom('fine' as const, 'bytes' as const), (values, widths) => {
        const r = Int32Array.from(values);
        expect(Array.from(unpack(pack(r, widths), r.length))).toEqual(values);
      }),
      { numRuns: 400 },
    );
  });

  it('each predictor is undone exactly: raw, delta and by kind, for any values and kinds', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.integer({ min: 0, max: 5 }), fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 })), { maxLength: 300 }), fc.constantFrom(PackedMode.raw, PackedMode.delta, PackedMode.kind), (events, mode) => {
        const kinds = Uint8Array.from(events.map(([k]) => k));
        const values = Int32Array.from(events.map(([, v]) => v));
        const r = new Int32Array(values.length);
        residuals(values, values.length, mode, kinds, r);
        const back = unpack(pack(r), r.length);
        unpredict(back, back.length, mode, kinds);
        expect(Array.from(back)).toEqual(Array.from(values));
      }),
      { numRuns: 300 },
    );
  });

  it('unpacking in one pass (bits, exceptions and predictor block by block) gives what unpacking then undoing the predictor gives, at every width set', () => {
    // Values of every bit length, so blocks take widths that divide 32 (read a word at a time) and widths that do not.
    const valueArb = fc.oneof(residualArb, fc.integer({ min: 0, max: 2 ** 20 }), fc.integer({ min: -70_000, max: 70_000 }));
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.integer({ min: 0, max: 5 }), valueArb), { maxLength: 3 * BLOCK + 9 }), fc.constantFrom(PackedMode.raw, PackedMode.delta, PackedMode.kind), fc.constantFrom('fine' as const, 'bytes' as const), (events, mode, widths) => {
        const kinds = Uint8Array.from(events.map(([k]) => k));
        const values = Int32Array.from(events.map(([, v]) => v));
        const r = new Int32Array(values.length);
        residuals(values, values.length, mode, kinds, r);
        const packed = pack(r, widths);
        const twoPasses = unpack(packed, r.length);
        unpredict(twoPasses, twoPasses.length, mode, kinds);
        const onePass = new Int32Array(values.length);
        unpackValues(packed, values.length, onePass, mode, kinds);
        expect(Array.from(onePass)).toEqual(Array.from(twoPasses));
        expect(Array.from(onePass)).toEqual(Array.from(values));
      }),
      { numRuns: 400 },
    );
  });

  it('a block whose every prediction is right (width 0, no exception) decodes to the predictions: the last value (delta), each kind\'s last value (kind)', () => {
    // A first block of assorted values over three kinds, then two blocks
    // that repeat, kind by kind, the last value of each kind, interleaved.
    const n = 3 * BLOCK;
    const kinds = Uint8Array.from({ length: n }, (_, i) => (i * 7 + (i >> 3)) % 3);
    const values = new Int32Array(n);
    const last = [0, 0, 0];
    for (let i = 0; i < n; i++) {
      const k = kinds[i]!;
      if (i < BLOCK) last[k] = ((i * 2654435761) | 0) >> 8;
      values[i] = last[k]!;
    }
    for (const mode of [PackedMode.kind, PackedMode.delta]) {
      const v = mode === PackedMode.kind ? values : Int32Array.from(values, (x, i) => (i < BLOCK ? x : values[BLOCK - 1]!));
      const r = new Int32Array(n);
      residuals(v, n, mode, kinds, r);
      const packed = pack(r);
      // Blocks 1 and 2: width 0, no exception.
      expect(Array.from(packed.subarray(2, 6))).toEqual([0, 0, 0, 0]);
      const out = new Int32Array(n).fill(-1);
      unpackValues(packed, n, out, mode, kinds);
      expect(Array.from(out)).toEqual(Array.from(v));
    }
  });

  it('a block of zeros costs its two header bytes; 8-bit values one byte each; one wide value among narrow ones is an exception, not a wider block', () => {
    const n = 4 * BLOCK;
    expect(pack(new Int32Array(n)).length).toBe(2 * 4);
    const bytes = Int32Array.from({ length: n }, (_, i) => (i * 37) & 0xff | 0x80);
    expect(pack(bytes).length).toBe(2 * 4 + n);
    // 127 values of 4 bits and one of 32: 64 bytes of 4-bit values, then the
    // exception's index (1 byte) and its 28 high bits as a varint (4 bytes).
    const one = Int32Array.from({ length: BLOCK }, (_, i) => (i === 5 ? -1 : i & 0xf));
    expect(pack(one).length).toBe(2 + BLOCK / 2 + 1 + 4);
    expect(Array.from(unpack(pack(one), BLOCK))).toEqual(Array.from(one));
  });

  it("the kind predictor turns a page table's entries naming consecutive frames, between other kinds' events, into one repeated residual", () => {
    // pt_writes (kind 2) of PTEs frame f, f+1, ... (frame above 8 flag bits), interleaved with reads (kind 1) of another column value.
    const n = 256;
    const kinds = Uint8Array.from({ length: n }, (_, i) => (i % 2 ? 2 : 1));
    const pte = Int32Array.from({ length: n }, (_, i) => (i % 2 ? ((1000 + (i >> 1)) << 8) | 0x67 : 0));
    const r = new Int32Array(n);
    residuals(pte, n, PackedMode.kind, kinds, r);
    // After each kind's first event: a read's 0 follows 0, a pt_write's PTE the previous one plus 1 << 8 (zigzagged: 512).
    expect(new Set(Array.from(r.subarray(2)))).toEqual(new Set([0, 512]));
  });

  it('a damaged payload is refused: cut short, one byte too many, a width over 32, an exception past its block or wider than 32 bits', () => {
    const r = Int32Array.from({ length: 200 }, (_, i) => (i === 3 ? 1 << 30 : i & 0x3f));
    const good = pack(r);
    expect(Array.from(unpack(good, 200))).toEqual(Array.from(r));
    const refused = (bytes: Uint8Array, count = 200) => expect(() => unpack(bytes, count)).toThrow(PackedCodecError);
    refused(good.subarray(0, good.length - 1));
    refused(Uint8Array.from([...good, 0]));
    refused(good, 300);
    refused(new Uint8Array(0), 1);
    const wide = good.slice();
    wide[0] = 33;
    refused(wide);
    // Block 0's exception sits right after the packed bits: index 3, then the varint of 1 << (30 - w).
    const e0 = 2 * 2 + Math.ceil((128 * good[0]!) / 8) + Math.ceil((72 * good[2]!) / 8);
    expect(good[e0]).toBe(3);
    const past = good.slice();
    past[e0] = 200;
    refused(past);
    // Any exception of five varint bytes (or high bits above 32 - w) holds bits a 32-bit value does not have.
    const over = Uint8Array.from([good[0]!, 1, ...good.subarray(2, 4), ...good.subarray(4, e0), 3, 0xff, 0xff, 0xff, 0xff, 0x7f]);
    refused(over);
  });
});

describe('Zstandard frames of packed columns', () => {
  const spec = GUEST_COLUMN_SPECS[3]!;
  const decode = (d: Uint8Array, count: number) => decodeColumn(spec, { c: 'p', m: PackedMode.raw, d, z: 'zstd' }, count, new Int32Array(count));

  it("a frame's least and most output are read from its headers: our own frames lie between, below their size rounded up to 128 KiB blocks", () => {
    const values = Int32Array.from({ length: 70_000 }, (_, i) => (i * 2654435761) >>> 12);
    // Today's encoder writes byte columns (version 3): count * width bytes under the frame.
    const enc = new ColumnEncoder('compact').encode(spec, values, values.length) as { c: string; d: Uint8Array; z?: string; w?: number };
    expect(enc.c).toBe('b');
    expect(enc.z).toBe('zstd');
    const plainBytes = values.length * enc.w!;
    const { least, most } = zstdFrameSizes(enc.d)!;
    expect(least).toBeLessThanOrEqual(plainBytes);
    expect(most).toBeGreaterThanOrEqual(plainBytes);
    expect(most).toBeLessThan(plainBytes + 2 * 128 * 1024);
  });

  it('a frame that must inflate past what its column holds is refused before it is decompressed, and so is anything but one frame', () => {
    const bomb = zstdBomb();
    // Its RLE blocks make 1 MB, whatever its header's content size of 0 says.
    expect(zstdFrameSizes(bomb)).toEqual({ least: 1_000_000, most: 1_000_000 });
    expect(() => decode(bomb, 100)).toThrow(/inflates to at least 1,000,000 bytes/);
    expect(() => decode(Uint8Array.from([1, 2, 3, 4, 5, 6, 7]), 100)).toThrow(/not one Zstandard frame/);
    expect(() => decode(Uint8Array.from([...bomb, 0]), 100)).toThrow(/not one Zstandard frame/);
    expect(() => decode(bomb.subarray(0, bomb.length - 1), 100)).toThrow(/not one Zstandard frame/);
    expect(() => decode(bomb, 100)).toThrow(ColumnCodecError);
  });

  it('a byte column (version 3) refuses the same frame before it is decompressed, and anything but one frame', () => {
    const decodeBytes = (d: Uint8Array, count: number) => decodeColumn(spec, { c: 'b', m: PackedMode.raw, w: 4, d, z: 'zstd' }, count, new Int32Array(count));
    expect(() => decodeBytes(zstdBomb(), 100)).toThrow(/byte column page inflates to at least 1,000,000 bytes, more than the 400 its values take/);
    expect(() => decodeBytes(Uint8Array.from([1, 2, 3, 4, 5, 6, 7]), 100)).toThrow(/byte column page is not one Zstandard frame/);
    expect(() => decodeBytes(zstdBomb(), 100)).toThrow(ColumnCodecError);
  });
});

/**
 * Magic, a single-segment header with a 1-byte content size, then ten RLE
 * blocks of 100,000 bytes (3-byte header + 1 byte each): 1 MB from 45 bytes.
 */
function zstdBomb(): Uint8Array {
  const rle = (last: number) => {
    const h = (100_000 << 3) | (1 << 1) | last;
    return [h & 0xff, (h >> 8) & 0xff, (h >> 16) & 0xff, 0x00];
  };
  return Uint8Array.from([0x28, 0xb5, 0x2f, 0xfd, 0x20, 0x00, ...Array.from({ length: 9 }, () => rle(0)).flat(), ...rle(1)]);
}
