// Checks version 3's byte columns (src/trace/byte-residual-codec.ts,
// decoded by column-codec.ts): for every column type, predictor and byte
// width, and for bytes at any alignment (a column stored as it is sits
// anywhere inside its msgpack record), the values decoded are the values
// encoded; and the width chosen is the narrowest that holds the residuals.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { byteWidthOf, residualBytes } from '../../src/trace/byte-residual-codec.js';
import { allocateColumn, type ColumnArray, type ColumnSpec, decodeColumn } from '../../src/trace/column-codec.js';
import { GUEST_COLUMN_SPECS, RUN_COLUMN_SPECS } from '../../src/trace/column-specs.js';
import { PackedMode, residuals } from '../../src/trace/packed-codec.js';

const SPECS: ColumnSpec[] = [...GUEST_COLUMN_SPECS, RUN_COLUMN_SPECS.find((s) => s.name === 'costNs')!];
const RANGE = { u8: [0, 0xff], u16: [0, 0xffff], u32: [0, 0xffff_ffff], i32: [-(2 ** 31), 2 ** 31 - 1] } as const;

describe('byte residual columns', () => {
  it('the width is the narrowest of 1, 2 and 4 bytes holding every residual as an unsigned 32-bit pattern', () => {
    expect(byteWidthOf(Int32Array.from([0, 255, 7]), 3)).toBe(1);
    expect(byteWidthOf(Int32Array.from([0, 256]), 2)).toBe(2);
    expect(byteWidthOf(Int32Array.from([65535, 1]), 2)).toBe(2);
    expect(byteWidthOf(Int32Array.from([65536]), 1)).toBe(4);
    expect(byteWidthOf(Int32Array.from([-1]), 1)).toBe(4);
    // Only the first `count` count.
    expect(byteWidthOf(Int32Array.from([1, -1]), 1)).toBe(1);
  });

  it('decodes to the values encoded, for every column type, predictor, width that holds them and byte alignment', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: SPECS.length - 1 }),
        fc.integer({ min: 1, max: 700 }),
        fc.integer({ min: 0, max: 2 ** 31 - 1 }),
        fc.constantFrom(0, 8, 0x100, 0x1_0000, 2 ** 32),
        fc.integer({ min: 0, max: 3 }),
        (s, count, seed, spread, misalign) => {
          const spec = SPECS[s]!;
          const [min, max] = RANGE[spec.type];
          // Values near each other (small residuals) or anywhere in the type's range.
          let x = seed;
          const values = allocateColumn(spec.type, count);
          const kinds = new Uint8Array(count);
          for (let i = 0; i < count; i++) {
            x = (Math.imul(x, 1664525) + 1013904223) >>> 0;
            kinds[i] = x % 5;
            values[i] = Math.min(max, Math.max(min, (spec.type === 'i32' ? -Math.floor(spread / 2) : 0) + (x % spread)));
          }
          const ints = new Int32Array(count);
          ints.set(values);
          const r = new Int32Array(count);
          for (const m of [PackedMode.raw, PackedMode.delta, PackedMode.kind]) {
            residuals(ints, count, m, kinds, r);
            const need = byteWidthOf(r, count);
            for (const w of [1, 2, 4] as const) {
              if (w < need) continue;
              const plain = residualBytes(r, count, w, new Uint8Array(4 * count));
              // The bytes at an offset of 0 to 3 inside a larger buffer.
              const host = new Uint8Array(plain.length + 4);
              host.set(plain, misalign);
              const d = host.subarray(misalign, misalign + plain.length);
              const out: ColumnArray = allocateColumn(spec.type, count);
              decodeColumn(spec, { c: 'b', m, w, d }, count, out, kinds);
              expect(Array.from(out)).toEqual(Array.from(values));
            }
          }
        },
      ),
      { numRuns: 150 },
    );
  });
});
