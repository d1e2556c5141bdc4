import { brotliCompressSync, brotliDecompressSync, constants as zlibConstants } from 'node:zlib';
import { isConstantColumn } from './column-constant.js';
import { decodeVarints, encodeVarints, VARINT_MAX_BYTES } from './varint-codec.js';

/**
 * How one column of a chunk is stored. Chosen per column and per chunk, so a
 * column that never changes (the kind of a hot-set stream, the pte column of
 * reads) costs a few bytes whatever the chunk size.
 *
 *   fast:    constant, or the raw typed array (msgpackr `moreTypes`)
 *   varint:  constant, or zigzag varints (of deltas for `delta` columns)
 *   compact: varint, then Brotli quality 1 when that is smaller. Measured on
 *            hot-set pages: Brotli q1 encodes at ~8 ns and decodes at ~8.5 ns
 *            an event for 1.81 bytes; deflate level 1 took 45 ns to encode
 *            (17 ns Huffman-only) for the same size.
 *
 * Varint bytes are the uncompressed form; zlib output may change between
 * versions, so digests never cover it (DESIGN performance notes).
 */
export type ColumnEncoding = 'fast' | 'varint' | 'compact';
export const COLUMN_ENCODINGS: readonly ColumnEncoding[] = ['fast', 'varint', 'compact'];
export const DEFAULT_ENCODING: ColumnEncoding = 'compact';

export type ColumnArray = Uint8Array | Uint16Array | Uint32Array | Int32Array;
export type ColumnType = 'u8' | 'u16' | 'u32' | 'i32';

export interface ColumnSpec {
  readonly name: string;
  readonly type: ColumnType;
  /** Encode differences between neighbours (columns that drift, like pages). */
  readonly delta: boolean;
}

/** An encoded column as it sits in a chunk record (short keys: it repeats). */
export type EncodedColumn =
  | { readonly c: 'k'; readonly v: number }
  | { readonly c: 'r'; readonly d: ColumnArray }
  | { readonly c: 'v' | 'd'; readonly d: Uint8Array; readonly z?: 1 };

export class ColumnCodecError extends Error {
  override readonly name = 'ColumnCodecError';
}

const BROTLI_OPTIONS = { params: { [zlibConstants.BROTLI_PARAM_QUALITY]: 1 } };

export class ColumnEncoder {
  private scratch = new Uint8Array(0);
  private ints = new Int32Array(0);

  constructor(readonly encoding: ColumnEncoding) {}

  encode(spec: ColumnSpec, values: ColumnArray, count: number): EncodedColumn {
    if (count > 0 && isConstantColumn(values, count)) return { c: 'k', v: values[0]! };
    const used = values.length === count ? values : values.subarray(0, count);
    if (this.encoding === 'fast') return { c: 'r', d: used };
    const need = count * VARINT_MAX_BYTES;
    if (this.scratch.length < need) this.scratch = new Uint8Array(need);
    // Widen to Int32 natively first so the varint loop sees one array type
    // (a loop polymorphic over four typed-array types runs at half speed).
    if (this.ints.length < count) this.ints = new Int32Array(count);
    const ints = this.ints.subarray(0, count);
    ints.set(used);
    const len = encodeVarints(ints, count, spec.delta, this.scratch);
    const c = spec.delta ? 'd' : 'v';
    const plain = this.scratch.subarray(0, len);
    if (this.encoding === 'compact' && len > 64) {
      const z = brotliCompressSync(plain, BROTLI_OPTIONS);
      if (z.length < len) return { c, d: z, z: 1 };
    }
    return { c, d: plain.slice() };
  }
}

export function allocateColumn(type: ColumnType, count: number): ColumnArray {
  switch (type) {
    case 'u8':
      return new Uint8Array(count);
    case 'u16':
      return new Uint16Array(count);
    case 'u32':
      return new Uint32Array(count);
    case 'i32':
      return new Int32Array(count);
  }
}

const TYPE_OF: Record<string, ColumnType> = {
  Uint8Array: 'u8',
  Uint16Array: 'u16',
  Uint32Array: 'u32',
  Int32Array: 'i32',
};

/**
 * Decodes a column into `out` (exactly `count` long). Throws ColumnCodecError
 * on anything malformed; the reader adds the file, offset and record.
 */
export function decodeColumn(spec: ColumnSpec, enc: unknown, count: number, out: ColumnArray): void {
  if (typeof enc !== 'object' || enc === null) throw new ColumnCodecError(`column ${spec.name} is not an encoded column`);
  const e = enc as Record<string, unknown>;
  switch (e['c']) {
    case 'k': {
      const v = e['v'];
      if (typeof v !== 'number') throw new ColumnCodecError(`constant column ${spec.name} has no value`);
      // A typed array's fill wraps 2^32 to 0 and turns NaN into 0: a value
      // the column cannot hold is refused, not stored as another one.
      const [min, max] = TYPE_RANGE[spec.type];
      if (!Number.isInteger(v) || v < min || v > max) throw new ColumnCodecError(`constant column ${spec.name} holds ${v}, which a ${spec.type} column cannot (${min} to ${max})`);
      out.fill(v);
      return;
    }
    case 'r': {
      const d = e['d'] as ColumnArray;
      if (!ArrayBuffer.isView(d) || TYPE_OF[d.constructor.name] !== spec.type || d.length !== count) {
        throw new ColumnCodecError(`raw column ${spec.name} is not ${count} values of type ${spec.type}`);
      }
      out.set(d);
      return;
    }
    case 'v':
    case 'd': {
      let d = e['d'];
      if (!(d instanceof Uint8Array)) throw new ColumnCodecError(`varint column ${spec.name} has no bytes`);
      if (e['z'] === 1) {
        try {
          d = brotliDecompressSync(d, { maxOutputLength: Math.max(count * VARINT_MAX_BYTES, 64) });
        } catch (err) {
          throw new ColumnCodecError(`column ${spec.name} does not decompress: ${(err as Error).message}`);
        }
      }
      const bytes = d as Uint8Array;
      const ints = out instanceof Int32Array ? out : decodeScratch(count);
      const used = decodeVarints(bytes, count, e['c'] === 'd', ints);
      if (used !== bytes.length) {
        throw new ColumnCodecError(`varint column ${spec.name} holds ${bytes.length} bytes, ${used < 0 ? 'too few' : `${used} used`} for ${count} values`);
      }
      // Varints are Int32: a u32 column's values come back as the same 32
      // bits, but a u8 or u16 column's would be cut to the column's width.
      if (spec.type === 'u8' || spec.type === 'u16') {
        const bad = outOfRange(ints, count, TYPE_RANGE[spec.type][1]);
        if (bad >= 0) throw new ColumnCodecError(`varint column ${spec.name} holds ${ints[bad]} at event ${bad}, which a ${spec.type} column cannot (0 to ${TYPE_RANGE[spec.type][1]})`);
      }
      if (ints !== out) out.set(ints);
      return;
    }
    default:
      throw new ColumnCodecError(`column ${spec.name} has unknown encoding '${String(e['c'])}'`);
  }
}

/** The values each column type holds. */
const TYPE_RANGE: Record<ColumnType, readonly [number, number]> = {
  u8: [0, 0xff],
  u16: [0, 0xffff],
  u32: [0, 0xffff_ffff],
  i32: [-0x8000_0000, 0x7fff_ffff],
};

/**
 * The first of `count` values outside 0..max (max of the form 2^n - 1), or
 * -1. One OR over the column first: it is in range exactly when no value
 * has a bit above max's, negatives included (their sign bit).
 */
function outOfRange(ints: Int32Array, count: number, max: number): number {
  let bits = 0;
  for (let i = 0; i < count; i++) bits |= ints[i]!;
  if ((bits & ~max) === 0) return -1;
  for (let i = 0; i < count; i++) if ((ints[i]! & ~max) !== 0) return i;
  return -1;
}

let scratchInts = new Int32Array(0);

/** A reused Int32 buffer, so the varint decoder sees one array type. */
function decodeScratch(count: number): Int32Array {
  if (scratchInts.length < count) scratchInts = new Int32Array(count);
  return scratchInts.subarray(0, count);
}
