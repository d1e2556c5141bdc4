import { brotliDecompressSync } from 'node:zlib';
import { compressSync as lz4Compress, uncompressSync as lz4Uncompress } from 'lz4-napi';
import { isConstantColumn } from './column-constant.js';
import { packedBound, PackedCodecError, PackedMode, packResiduals, residuals, unpackResiduals, unpredict } from './packed-codec.js';
import { decodeVarints, encodeVarints, VARINT_MAX_BYTES } from './varint-codec.js';

/**
 * How one column of a chunk is stored. Chosen per column and per chunk, so a
 * column that never changes (the kind of a hot-set stream, the pte column of
 * reads) costs a few bytes whatever the chunk size.
 *
 *   fast:    constant, or the raw typed array (msgpackr `moreTypes`)
 *   varint:  constant, or zigzag varints (of deltas for `delta` columns)
 *   compact: constant, or packed (src/trace/packed-codec.ts: the column's
 *            predictor, then bit-packed blocks), then LZ4 when that is
 *            smaller. Chosen for reading at memory speed (issue 16),
 *            measured on this 2-core machine under load, M guest events/s
 *            decoded (column decode alone) and bytes an event:
 *              varint + Brotli q1 (compact until 0.4):  apache 2.30 B
 *              packed alone:  apache 4.4 B, hot-set 1.98, muncher 2.48
 *              packed + LZ4:  apache 2.45 B, decompression 1.7 ns an event
 *              packed + zstd 1: 2.05 B, 5-7 ns; + deflate 1: 2.05 B, 22 ns;
 *              + Brotli q1: 2.09 B, 23 ns (bench/trace-bench.ts, the commit)
 *            LZ4 is the only general-purpose stage that decodes in a small
 *            share of an 80 M/s budget (12.5 ns an event); the packing
 *            before it does the rest. Traces of 0.4 and before hold
 *            varint + Brotli columns (`z`), still read.
 *
 * The digest covers the decoded columns, never these bytes (LZ4's or
 * zlib's output may change between versions; DESIGN performance notes).
 */
export type ColumnEncoding = 'fast' | 'varint' | 'compact';
export const COLUMN_ENCODINGS: readonly ColumnEncoding[] = ['fast', 'varint', 'compact'];
export const DEFAULT_ENCODING: ColumnEncoding = 'compact';

export type ColumnArray = Uint8Array | Uint16Array | Uint32Array | Int32Array;
export type ColumnType = 'u8' | 'u16' | 'u32' | 'i32';

/** The predictor of a packed column: see packed-codec.ts. */
export type ColumnPredictor = 'raw' | 'delta' | 'kind';

export interface ColumnSpec {
  readonly name: string;
  readonly type: ColumnType;
  /** Encode differences between neighbours (columns that drift, like pages): varint. */
  readonly delta: boolean;
  /** The packed (compact) encoding's predictor. */
  readonly predict: ColumnPredictor;
}

/** An encoded column as it sits in a chunk record (short keys: it repeats). */
export type EncodedColumn =
  | { readonly c: 'k'; readonly v: number }
  | { readonly c: 'r'; readonly d: ColumnArray }
  | { readonly c: 'v' | 'd'; readonly d: Uint8Array; readonly z?: 1 }
  | { readonly c: 'p'; readonly m: PackedMode; readonly d: Uint8Array; readonly l?: 1 };

export class ColumnCodecError extends Error {
  override readonly name = 'ColumnCodecError';
}

const PREDICTOR_MODE: Record<ColumnPredictor, PackedMode> = { raw: PackedMode.raw, delta: PackedMode.delta, kind: PackedMode.kind };

/** Packed payloads this short are stored as they are: LZ4 has nothing to find. */
const LZ4_MIN_BYTES = 64;

export class ColumnEncoder {
  private scratch = new Uint8Array(0);
  private ints = new Int32Array(0);
  private residual = new Int32Array(0);

  constructor(readonly encoding: ColumnEncoding) {}

  /** `kinds`: the chunk's kind column, for the packed `kind` predictor. */
  encode(spec: ColumnSpec, values: ColumnArray, count: number, kinds?: Uint8Array): EncodedColumn {
    if (count > 0 && isConstantColumn(values, count)) return { c: 'k', v: values[0]! };
    const used = values.length === count ? values : values.subarray(0, count);
    if (this.encoding === 'fast') return { c: 'r', d: used };
    // Widen to Int32 natively first so the loops see one array type
    // (a loop polymorphic over four typed-array types runs at half speed).
    if (this.ints.length < count) this.ints = new Int32Array(count);
    const ints = this.ints.subarray(0, count);
    ints.set(used);
    if (this.encoding === 'compact') return this.packed(spec, ints, count, kinds);
    const need = count * VARINT_MAX_BYTES;
    if (this.scratch.length < need) this.scratch = new Uint8Array(need);
    const len = encodeVarints(ints, count, spec.delta, this.scratch);
    return { c: spec.delta ? 'd' : 'v', d: this.scratch.slice(0, len) };
  }

  /**
   * The smallest of the column packed at any width and packed at byte
   * widths, each as it is or through LZ4: byte widths pack a little looser
   * but let LZ4 find repeated runs of residuals (apache's pages: 1.39
   * bytes an event against 1.43).
   */
  private packed(spec: ColumnSpec, ints: Int32Array, count: number, kinds: Uint8Array | undefined): EncodedColumn {
    let m = PREDICTOR_MODE[spec.predict];
    if (m === PackedMode.kind && !kinds) m = PackedMode.delta;
    if (this.residual.length < count) this.residual = new Int32Array(count);
    const r = this.residual.subarray(0, count);
    residuals(ints, count, m, kinds, r);
    const need = packedBound(count);
    if (this.scratch.length < need) this.scratch = new Uint8Array(need);
    let best: Uint8Array | undefined;
    let lz4 = false;
    for (const widths of ['fine', 'bytes'] as const) {
      const len = packResiduals(r, count, this.scratch, widths);
      const plain = this.scratch.subarray(0, len);
      if (!best || len < best.length) {
        best = plain.slice();
        lz4 = false;
      }
      if (len > LZ4_MIN_BYTES) {
        const z = lz4Compress(Buffer.from(plain.buffer, plain.byteOffset, len));
        if (z.length < best.length) {
          best = new Uint8Array(z.buffer, z.byteOffset, z.length);
          lz4 = true;
        }
      }
    }
    return lz4 ? { c: 'p', m, d: best!, l: 1 } : { c: 'p', m, d: best! };
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
 * Decodes a column into `out` (exactly `count` long); `kinds` is the
 * chunk's kind column, decoded first (a packed column may be predicted
 * from it). Throws ColumnCodecError on anything malformed; the reader adds
 * the file, offset and record.
 */
export function decodeColumn(spec: ColumnSpec, enc: unknown, count: number, out: ColumnArray, kinds?: Uint8Array): void {
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
      narrowInto(spec, 'varint', ints, count, out);
      return;
    }
    case 'p':
      decodePacked(spec, e, count, out, kinds);
      return;
    default:
      throw new ColumnCodecError(`column ${spec.name} has unknown encoding '${String(e['c'])}'`);
  }
}

/** Stores Int32 values into the column, refusing any a u8 or u16 column would cut to its width. */
function narrowInto(spec: ColumnSpec, what: string, ints: Int32Array, count: number, out: ColumnArray): void {
  if (spec.type === 'u8' || spec.type === 'u16') {
    const bad = outOfRange(ints, count, TYPE_RANGE[spec.type][1]);
    if (bad >= 0) throw new ColumnCodecError(`${what} column ${spec.name} holds ${ints[bad]} at event ${bad}, which a ${spec.type} column cannot (0 to ${TYPE_RANGE[spec.type][1]})`);
  }
  if (ints !== out) out.set(ints);
}

/**
 * A packed column: LZ4 undone if `l`, the blocks unpacked and the predictor
 * undone. An Int32 or Uint32 column is unpacked in place (a u32 column
 * through an Int32 view of its bytes: the same 32 bits); u8 and u16 go
 * through a scratch and are range-checked.
 */
function decodePacked(spec: ColumnSpec, e: Record<string, unknown>, count: number, out: ColumnArray, kinds: Uint8Array | undefined): void {
  let d = e['d'];
  const m = e['m'];
  if (!(d instanceof Uint8Array)) throw new ColumnCodecError(`packed column ${spec.name} has no bytes`);
  if (m !== PackedMode.raw && m !== PackedMode.delta && m !== PackedMode.kind) throw new ColumnCodecError(`packed column ${spec.name} has unknown predictor ${String(m)}`);
  if (m === PackedMode.kind && !kinds) throw new ColumnCodecError(`packed column ${spec.name} is predicted from the kinds, which come after it`);
  if (e['l'] !== undefined) {
    if (e['l'] !== 1) throw new ColumnCodecError(`packed column ${spec.name} has unknown compression ${String(e['l'])}`);
    d = inflateLz4(spec, d as Uint8Array, packedBound(count));
  }
  const ints = out instanceof Int32Array ? out : out instanceof Uint32Array ? new Int32Array(out.buffer, out.byteOffset, count) : decodeScratch(count);
  try {
    unpackResiduals(d as Uint8Array, count, ints);
  } catch (err) {
    if (err instanceof PackedCodecError) throw new ColumnCodecError(`packed column ${spec.name}: ${err.message}`);
    throw err;
  }
  unpredict(ints, count, m, kinds);
  if (ints.buffer !== out.buffer) narrowInto(spec, 'packed', ints, count, out);
}

/** LZ4 (a block with its length before it, as lz4-napi writes it), its length checked before anything is allocated. */
function inflateLz4(spec: ColumnSpec, z: Uint8Array, bound: number): Uint8Array {
  if (z.length < 4) throw new ColumnCodecError(`packed column ${spec.name} has a cut LZ4 block`);
  const len = (z[0]! | (z[1]! << 8) | (z[2]! << 16) | (z[3]! << 24)) >>> 0;
  if (len > bound) throw new ColumnCodecError(`packed column ${spec.name} says it inflates to ${len} bytes, more than ${count(bound)} its values can take`);
  let plain: Buffer;
  try {
    plain = lz4Uncompress(z);
  } catch (err) {
    throw new ColumnCodecError(`packed column ${spec.name} does not decompress: ${(err as Error).message}`);
  }
  if (plain.length !== len) throw new ColumnCodecError(`packed column ${spec.name} inflates to ${plain.length} bytes, not the ${len} it says`);
  return plain;
}

function count(n: number): string {
  return n.toLocaleString('en-US');
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
