import { createRequire } from 'node:module';
import type { Encoder as ZstdEncoder } from '@toondepauw/node-zstd';
import { isConstantColumn } from './column-constant.js';
import { type ByteWidth, byteWidthOf, decodeResidualBytes, residualBytes } from './byte-residual-codec.js';
import { packedBound, PackedCodecError, PackedMode, residuals, unpackValues } from './packed-codec.js';
import { decodeVarints, encodeVarints, VARINT_MAX_BYTES } from './varint-codec.js';
import { BLOCK_MAX, zstdFrameSizes } from './zstd-frame.js';
import { ZstdInflater } from './zstd-inflater.js';

/**
 * How one column of a chunk is stored. Chosen per column and per chunk, so a
 * column that never changes (the kind of a hot-set stream, the pte column of
 * reads) costs a few bytes whatever the chunk size.
 *
 *   fast:    constant, or the raw typed array (msgpackr `moreTypes`)
 *   varint:  constant, or zigzag varints (of deltas for `delta` columns)
 *   compact: constant, or a column of byte residuals (version 3,
 *            src/trace/byte-residual-codec.ts: the residuals of the
 *            predictor that ends smallest, raw, delta or by kind, at the
 *            narrowest byte width of 1, 2 or 4 that holds them), then
 *            Zstandard level 3 when that saves at least 15%
 *            (ZSTD_INFLATE_WEIGHT). Chosen for reading at memory speed
 *            (issue 16 item 3). Measured by bench/codec-prototype.ts (CPU
 *            time, one thread, 60 s of apache; bytes an event, decode ns
 *            an event, encode ns an event):
 *              packed + zstd 1 (compact of version 2): 2.19 B, 29.4, 256
 *              byte residuals + zstd 3 (version 3):     1.79 B, 17.2, 115
 *              byte residuals + zstd 1:                 1.90 B, 18.8, 134
 *              zstd 9 and 15: 15 and 14 ns, but 350 ns and 32 us to encode
 *              LZ4 HC (a JavaScript block decoder): 2.04 B, 13.3 ns
 *                before any predictor is undone
 *            Zstandard is written by the native binding
 *            (@toondepauw/node-zstd, napi-rs, its binary in the npm
 *            package) and read by zstd's decoder as WebAssembly
 *            (src/trace/zstd-inflater.ts: the binding's decoder set up a
 *            stream per call and ran at a third of the speed); nothing
 *            downloads.
 *            Still read: version 2's packed columns (`c: 'p'`,
 *            src/trace/packed-codec.ts: a predictor, bit-packed blocks,
 *            Zstandard level 1), version 1's varint + Brotli (`z: 1`).
 *
 * The digest covers the decoded columns, never these bytes (Zstandard's or
 * zlib's output may change between versions; DESIGN performance notes).
 */
import type { ColumnEncoding } from './column-encoding.js';
export { type ColumnEncoding, COLUMN_ENCODINGS, DEFAULT_ENCODING } from './column-encoding.js';

export type ColumnArray = Uint8Array | Uint16Array | Uint32Array | Int32Array;
export type ColumnType = 'u8' | 'u16' | 'u32' | 'i32';

/** The predictor of a packed column: see packed-codec.ts. */
export type ColumnPredictor = 'raw' | 'delta' | 'kind';

export interface ColumnSpec {
  readonly name: string;
  readonly type: ColumnType;
  /** Encode differences between neighbours (columns that drift, like pages): varint. */
  readonly delta: boolean;
  /** The packed (compact) encoding's predictors: the encoder keeps the one that packs smallest. */
  readonly predict: readonly ColumnPredictor[];
}

/** An encoded column as it sits in a chunk record (short keys: it repeats). */
export type EncodedColumn =
  | { readonly c: 'k'; readonly v: number }
  | { readonly c: 'r'; readonly d: ColumnArray }
  | { readonly c: 'v' | 'd'; readonly d: Uint8Array; readonly z?: 1 }
  | { readonly c: 'p'; readonly m: PackedMode; readonly d: Uint8Array; readonly z?: 'zstd' }
  | { readonly c: 'b'; readonly m: PackedMode; readonly w: ByteWidth; readonly d: Uint8Array; readonly z?: 'zstd' };

export class ColumnCodecError extends Error {
  override readonly name = 'ColumnCodecError';
}

const PREDICTOR_MODE: Record<ColumnPredictor, PackedMode> = { raw: PackedMode.raw, delta: PackedMode.delta, kind: PackedMode.kind };

/**
 * The native Zstandard binding, loaded on first use: commands that only
 * name the encodings (`migsim --help`, record's options) do not load it.
 */
let zstdModule: typeof import('@toondepauw/node-zstd') | undefined;
function zstd(): typeof import('@toondepauw/node-zstd') {
  zstdModule ??= createRequire(import.meta.url)('@toondepauw/node-zstd') as typeof import('@toondepauw/node-zstd');
  return zstdModule;
}

/**
 * node:zlib (with node:stream, which it loads: 3-5 ms) on the first
 * Brotli column: this module is in every run's files (a run's batches are
 * built by column-batch-builder.ts beside it), and a generated guest reads
 * no trace.
 */
let zlibModule: typeof import('node:zlib') | undefined;
function zlib(): typeof import('node:zlib') {
  zlibModule ??= createRequire(import.meta.url)('node:zlib') as typeof import('node:zlib');
  return zlibModule;
}

/** Residual bytes this short are stored as they are: Zstandard has nothing to find. */
const ZSTD_MIN_BYTES = 64;
/**
 * What a column through Zstandard is charged per byte it inflates to, on
 * top of its size: its decode time. Zstandard must so save at least 15% of
 * the bytes to be used. Measured on version 2's packed columns (CPU time,
 * under load): apache's columns all pass (1.99 bytes an event against
 * 1.95 with no charge, same speed); hot-set's random pages do not
 * (Zstandard saves 14%), and read 1.33x faster at 1.84 bytes an event
 * against 1.71.
 */
const ZSTD_INFLATE_WEIGHT = 0.15;
/**
 * What undoing each predictor is charged per event, in bytes at the
 * exchange rate ZSTD_INFLATE_WEIGHT sets (0.15 byte for a byte zstd
 * inflates, at 0.8 ns a byte here: 1 byte for 5.2 ns). Undoing `kind`
 * takes 1.9 ns an event and `delta` 1.2 (packed-codec.ts unpredict, on
 * apache's arg and pte columns; `raw` is TypedArray.set). Apache's arg
 * and pte by kind saved 0.05 and 0.08 bytes an event over raw: stored
 * raw, 60 s of apache is 1.92 bytes an event against 1.79 and reads 12%
 * faster, on one thread and on two (issue 16 item 3, its 80 M events/s).
 *
 * The charge is at most half the column's bytes stored raw (PREDICTOR_
 * HALVES): a predictor that halves a column is kept however little that
 * is an event. Charged in full, the muncher's pages, arg and PTEs by kind
 * (0.02, 0.001 and 0.0006 bytes an event) went raw at 6 to 76 times
 * their size: a trace's size is what its user sees.
 */
const PREDICTOR_UNDO_BYTES: Record<PackedMode, number> = { [PackedMode.raw]: 0, [PackedMode.delta]: 0.23, [PackedMode.kind]: 0.37 };
const PREDICTOR_HALVES = 0.5;

/**
 * Zstandard level 3 (zstd's default): on apache's byte residuals level 1
 * writes 6% more (1.90 against 1.79 bytes an event), inflates no faster
 * (18.8 against 17.2 ns) and encodes no faster (134 ns both, CANDIDATES=
 * z1,z3); levels 9 and 15 inflate 10-20% faster but write at 350 ns and
 * 32 us an event (bench/codec-prototype.ts).
 */
const ZSTD_LEVEL = 3;

/** The predictors a column's encoder tries: its spec's and raw (a kind column's own `kind` is delta: no kinds precede it). */
function predictorsOf(spec: ColumnSpec, kinds: Uint8Array | undefined): PackedMode[] {
  const modes: PackedMode[] = [PackedMode.raw];
  for (const p of spec.predict) {
    const m = p === 'kind' && !kinds ? PackedMode.delta : PREDICTOR_MODE[p];
    if (!modes.includes(m)) modes.push(m);
  }
  return modes;
}

export class ColumnEncoder {
  private scratch = new Uint8Array(0);
  private ints = new Int32Array(0);
  private residual = new Int32Array(0);
  private zstd: ZstdEncoder | undefined;

  constructor(readonly encoding: ColumnEncoding) {}

  /** `kinds`: the chunk's kind column, for the `kind` predictor. */
  encode(spec: ColumnSpec, values: ColumnArray, count: number, kinds?: Uint8Array): EncodedColumn {
    if (count > 0 && isConstantColumn(values, count)) return { c: 'k', v: values[0]! };
    const used = values.length === count ? values : values.subarray(0, count);
    if (this.encoding === 'fast') return { c: 'r', d: used };
    // Widen to Int32 natively first so the loops see one array type
    // (a loop polymorphic over four typed-array types runs at half speed).
    if (this.ints.length < count) this.ints = new Int32Array(count);
    const ints = this.ints.subarray(0, count);
    ints.set(used);
    if (this.encoding === 'compact') return this.byteResiduals(spec, ints, count, kinds);
    const need = count * VARINT_MAX_BYTES;
    if (this.scratch.length < need) this.scratch = new Uint8Array(need);
    const len = encodeVarints(ints, count, spec.delta, this.scratch);
    return { c: spec.delta ? 'd' : 'v', d: this.scratch.slice(0, len) };
  }

  /**
   * The smallest of the column's residuals under each of its predictors, at
   * their narrowest byte width, each as it is or through Zstandard,
   * counting ZSTD_INFLATE_WEIGHT and PREDICTOR_UNDO_BYTES. Ties keep the first tried: the choice,
   * and so the bytes written, depend on the values alone.
   */
  private byteResiduals(spec: ColumnSpec, ints: Int32Array, count: number, kinds: Uint8Array | undefined): EncodedColumn {
    if (this.residual.length < count) this.residual = new Int32Array(count);
    const r = this.residual.subarray(0, count);
    if (this.scratch.length < 4 * count) this.scratch = new Uint8Array(4 * count);
    let best: EncodedColumn = { c: 'k', v: 0 };
    let bestCost = Infinity; // bytes, and the charges for inflating them and undoing the predictor
    // The bytes the column takes stored raw (predictorsOf tries raw first).
    let rawBytes = Infinity;
    for (const m of predictorsOf(spec, kinds)) {
      residuals(ints, count, m, kinds, r);
      const w = byteWidthOf(r, count);
      const plain = residualBytes(r, count, w, this.scratch);
      const len = plain.length;
      const undo = m === PackedMode.raw ? 0 : Math.min(PREDICTOR_UNDO_BYTES[m] * count, PREDICTOR_HALVES * rawBytes);
      if (len + undo < bestCost) {
        best = { c: 'b', m, w, d: plain.slice() };
        bestCost = len + undo;
      }
      if (len > ZSTD_MIN_BYTES) {
        this.zstd ??= new (zstd().Encoder)(ZSTD_LEVEL);
        const z = this.zstd.encodeSync(Buffer.from(plain.buffer, plain.byteOffset, len));
        const cost = z.length + ZSTD_INFLATE_WEIGHT * len + undo;
        if (cost < bestCost) {
          best = { c: 'b', m, w, d: new Uint8Array(z.buffer, z.byteOffset, z.length), z: 'zstd' };
          bestCost = cost;
        }
      }
      if (m === PackedMode.raw) rawBytes = (best as { d: Uint8Array }).d.length;
    }
    return best;
  }
}

/** Each column type's array, for a fresh column, a view of a shared slot and a value's bytes alike. */
const COLUMN_ARRAY: Record<ColumnType, Uint8ArrayConstructor | Uint16ArrayConstructor | Uint32ArrayConstructor | Int32ArrayConstructor> = {
  u8: Uint8Array,
  u16: Uint16Array,
  u32: Uint32Array,
  i32: Int32Array,
};

/** Bytes a value of each column type takes. */
export function columnTypeBytes(type: ColumnType): number {
  return COLUMN_ARRAY[type].BYTES_PER_ELEMENT;
}

/** A column of `count` values of `type` from byte `byteOffset` of `buffer` (a read-ahead thread's shared slot). */
export function columnOver(type: ColumnType, buffer: ArrayBufferLike, byteOffset: number, count: number): ColumnArray {
  // (TypeScript's union of constructors takes only ArrayBuffer; each also takes a SharedArrayBuffer.)
  return new COLUMN_ARRAY[type](buffer as ArrayBuffer, byteOffset, count);
}

export function allocateColumn(type: ColumnType, count: number): ColumnArray {
  return new COLUMN_ARRAY[type](count);
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
          d = zlib().brotliDecompressSync(d, { maxOutputLength: Math.max(count * VARINT_MAX_BYTES, 64) });
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
    case 'b':
      decodeByteColumn(spec, e, count, out, kinds);
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
 * A packed column: Zstandard undone if `z`, the blocks unpacked and the predictor
 * undone. An Int32 or Uint32 column is unpacked in place (a u32 column
 * through an Int32 view of its bytes: the same 32 bits); u8 and u16 go
 * through a scratch and are range-checked.
 */
function decodePacked(spec: ColumnSpec, e: Record<string, unknown>, count: number, out: ColumnArray, kinds: Uint8Array | undefined): void {
  let d = e['d'];
  const m = e['m'];
  if (!(d instanceof Uint8Array)) throw new ColumnCodecError(`packed column ${spec.name} has no bytes`);
  checkPredictor(spec, 'packed', m, kinds);
  if (e['z'] !== undefined) d = inflateZstd(spec, 'packed', e['z'], d, packedBound(count), 'its values can take');
  const ints = out instanceof Int32Array ? out : out instanceof Uint32Array ? new Int32Array(out.buffer, out.byteOffset, count) : decodeScratch(count);
  try {
    unpackValues(d as Uint8Array, count, ints, m, kinds);
  } catch (err) {
    if (err instanceof PackedCodecError) throw new ColumnCodecError(`packed column ${spec.name}: ${err.message}`);
    throw err;
  }
  if (ints.buffer !== out.buffer) narrowInto(spec, 'packed', ints, count, out);
}

/** Each byte width's view of a payload, for a raw column stored at or under its own width (TypedArray.set widens it). */
const WIDTH_ARRAY = { 1: Uint8Array, 2: Uint16Array, 4: Int32Array } as const;

/**
 * A column of byte residuals (version 3, byte-residual-codec.ts): its
 * predictor and width checked, Zstandard undone if `z`, the bytes' length
 * checked against count * width, then widened and the predictor undone.
 * A raw column at or under its own width is one TypedArray.set into the
 * column; otherwise a 32-bit column is decoded in place (a u32 column
 * through an Int32 view of its bytes: the same 32 bits), and u8 and u16
 * through a scratch, range-checked.
 */
function decodeByteColumn(spec: ColumnSpec, e: Record<string, unknown>, count: number, out: ColumnArray, kinds: Uint8Array | undefined): void {
  let d = e['d'];
  const m = e['m'];
  const w = e['w'];
  if (!(d instanceof Uint8Array)) throw new ColumnCodecError(`byte column ${spec.name} has no bytes`);
  checkPredictor(spec, 'byte', m, kinds);
  if (w !== 1 && w !== 2 && w !== 4) throw new ColumnCodecError(`byte column ${spec.name} has width ${String(w)}, not 1, 2 or 4 bytes`);
  const want = count * w;
  if (e['z'] !== undefined) d = inflateZstd(spec, 'byte', e['z'], d, want, 'its values take');
  const bytes = d as Uint8Array;
  if (bytes.length !== want) throw new ColumnCodecError(`byte column ${spec.name} ${e['z'] ? 'inflates to' : 'holds'} ${grouped(bytes.length)} bytes, not the ${grouped(want)} of its ${grouped(count)} values of ${w} bytes`);
  if (m === PackedMode.raw && w <= out.BYTES_PER_ELEMENT && bytes.byteOffset % w === 0) {
    const T = w === 4 && out instanceof Uint32Array ? Uint32Array : WIDTH_ARRAY[w];
    out.set(new T(bytes.buffer as ArrayBuffer, bytes.byteOffset, count));
    return;
  }
  const ints = out instanceof Int32Array ? out : out instanceof Uint32Array ? new Int32Array(out.buffer, out.byteOffset, count) : decodeScratch(count);
  decodeResidualBytes(bytes, w, m, count, ints, kinds);
  if (ints.buffer !== out.buffer) narrowInto(spec, 'byte', ints, count, out);
}

/** A packed or byte column's predictor, known and with the kinds it may need. */
function checkPredictor(spec: ColumnSpec, what: string, m: unknown, kinds: Uint8Array | undefined): asserts m is PackedMode {
  if (m !== PackedMode.raw && m !== PackedMode.delta && m !== PackedMode.kind) throw new ColumnCodecError(`${what} column ${spec.name} has unknown predictor ${String(m)}`);
  if (m === PackedMode.kind && !kinds) throw new ColumnCodecError(`${what} column ${spec.name} is predicted from the kinds, which come after it`);
}

/** This thread's Zstandard decoder, made on first use (src/trace/zstd-inflater.ts). */
let inflater: ZstdInflater | undefined;

/**
 * The bytes of a Zstandard column whose values take at most `bound` bytes
 * (`boundIs` says so in the error): refused before inflating if its frame
 * must inflate to more than that (zstd-frame.ts), so a small frame
 * claiming gigabytes allocates nothing, and inflated into at most a block
 * more than that (zstd stops with an error at the end of the room; within
 * it, the caller says how many bytes the frame held). A view valid until
 * the next inflate on this thread (copy it to keep it).
 */
function inflateZstd(spec: ColumnSpec, what: string, z: unknown, d: Uint8Array, bound: number, boundIs: string): Uint8Array {
  if (z !== 'zstd') throw new ColumnCodecError(`${what} column ${spec.name} has unknown compression ${String(z)}`);
  const sizes = zstdFrameSizes(d);
  if (sizes === undefined) throw new ColumnCodecError(`${what} column ${spec.name} is not one Zstandard frame`);
  if (sizes.least > bound) throw new ColumnCodecError(`${what} column ${spec.name} inflates to at least ${grouped(sizes.least)} bytes, more than the ${grouped(bound)} ${boundIs}`);
  inflater ??= new ZstdInflater();
  const got = inflater.inflate(d, Math.min(sizes.most, bound + ZSTD_ROOM_PAST));
  if (!(got instanceof Uint8Array)) throw new ColumnCodecError(`${what} column ${spec.name} does not decompress: ${got.error}`);
  return got;
}

/** Room a column's frame is inflated into past what its values take (a block): a frame a little over is then reported with its size. */
const ZSTD_ROOM_PAST = BLOCK_MAX;

function grouped(n: number): string {
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
