import { createHash } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { copyGuestBatch, type GuestBatch } from '../src/events/guest-batch.js';
import { ChunkCheck } from '../src/trace/chunk-check.js';
import { type ColumnArray, ColumnEncoder, type ColumnSpec, decodeColumn, allocateColumn } from '../src/trace/column-codec.js';
import { GUEST_COLUMN_SPECS } from '../src/trace/column-specs.js';
import { isConstantColumn } from '../src/trace/column-constant.js';
import { PackedMode, packResiduals, packedBound, residuals, unpackValues, unpredict } from '../src/trace/packed-codec.js';
import { RecordFile } from '../src/trace/record-file.js';
import { TraceReader } from '../src/trace/trace-reader.js';
import { ZstdInflater } from '../src/trace/zstd-inflater.js';
import { median } from './bench-util.js';

/**
 * Prototype (issue 16 item 3): candidate column encodings measured on the
 * decoded columns of real traces, for decode CPU ns an event and bytes an
 * event, beside the costs of a read that do not depend on the encoding
 * (records: file read, CRC, msgpack; the file digest; chunk checks; the
 * time sum). Single thread, CPU time (process.cpuUsage), the median of
 * REPS rounds with every candidate measured once per round (paired).
 * Each candidate's decode is checked against the columns before timing.
 *
 *   node dist/cli/migsim.js record apache -o A.mst --seed 1 --duration 60s
 *   node --max-old-space-size=8192 dist/bench/codec-prototype.js A.mst [REPS]
 *   CANDIDATES=now,z3,z3i ... picks candidates (names: CANDIDATES below)
 *
 * What it found (December 2026, this 2-core machine under load 5-9;
 * apache 60 s, 5.78 M events): the best candidate, each column's
 * residuals (raw, delta or by kind, whichever zstd makes smallest) stored
 * at the narrowest byte width (1, 2 or 4) and through zstd level 3, is
 * 1.79 bytes an event and decodes in 17 ns an event against 29 ns for
 * the packed + zstd columns written now (2.19 bytes); 12.5 of its 17 ns
 * are zstd's inflate of 16 bytes an event (1.3 GB/s, which the native
 * zstd CLI does not beat on the same bytes: 1.1-1.5 GB/s). Byte planes
 * (shuffle), 3-byte widths, a fused widen + predictor pass, and bit
 * packing before zstd all decode slower; zstd 9 and 15 decode 15 and 14
 * ns but encode at 350 ns and 32 us an event. LZ4 HC (its CLI, 64 KiB
 * blocks, a JavaScript block decoder) is 2.04 bytes and 13.3 ns before
 * any predictor is undone. With the read's other costs (10 ns: chunk
 * checks 6, file digest 1.8, records 1.3, time sum 1) a read on one
 * thread is 24-27 ns an event; reading ahead on a second thread costs
 * 1.16-1.22x the CPU of one thread (trace-bench, three runs: one thread
 * 36-42 ns an event, the two 44-49 together), so each of two threads
 * would spend 14.5-16.5 ns: 60-70 M events/s, not the 80 M/s (12.5 ns)
 * of the issue. Only zstd 15 comes near (about 79 M/s, no margin), and
 * its writer would record 30 thousand events a second. The encoding
 * alone cannot reach the target; chunk checks and the cost of the
 * second thread are the larger shares left (a branch-free check loop
 * was no faster: 5.7 against 6.1 ns).
 *
 * Trace format version 3 writes that best candidate (src/trace/
 * byte-residual-codec.ts), so the `now` candidate (ColumnEncoder and
 * decodeColumn as the reader runs them) is it since then. Paired runs,
 * CANDIDATES=now, 5 reps, load about 10 on 2 cores, on the same 60 s of
 * apache recorded by each build: version 2 (the build before) 2.19 bytes,
 * 26.6 and 26.8 ns an event to decode, 250 and 237 ns to encode; version
 * 3: 1.79 bytes, 16.6 and 25.9 ns (the second run's fixed costs were
 * noisy too), 122 and 163 ns to encode.
 */

type Zstd = typeof import('@toondepauw/node-zstd');
const zstd = createRequire(import.meta.url)('@toondepauw/node-zstd') as Zstd;

const file = process.argv[2];
if (!file) throw new Error('usage: node dist/bench/codec-prototype.js TRACE.mst [REPS]');
const reps = Number(process.argv[3] ?? 7);

// The trace's guest chunks, decoded once.
const chunks: GuestBatch[] = [];
TraceReader.open(file, { verifyDigest: false, readAhead: 'inline' }).forEachChunk((c) => {
  if (c.stream === 'guest') chunks.push(copyGuestBatch(c.batch));
});
const header = TraceReader.open(file, { verifyDigest: false }).header;
const events = chunks.reduce((a, b) => a + b.count, 0);
const fileBytes = readFileSync(file).length;
const cols = ['kind', 'dtNs', 'vcpu', 'page', 'arg', 'pte'] as const;

function cpuUs(): number {
  const u = process.cpuUsage();
  return u.user + u.system;
}

/** An encoded column of a candidate: opaque, with its size. */
interface Enc {
  readonly bytes: number;
  readonly data: unknown;
}
interface Candidate {
  readonly name: string;
  encode(spec: ColumnSpec, values: ColumnArray, count: number, kinds: Uint8Array): Enc;
  decode(spec: ColumnSpec, enc: Enc, count: number, out: ColumnArray, kinds: Uint8Array): void;
}

const inflater = new ZstdInflater();
const inflatedBytes = new Map<Enc, number>();
const encoders = new Map<number, InstanceType<Zstd['Encoder']>>();
function zenc(bytes: Uint8Array, level: number): Uint8Array {
  let e = encoders.get(level);
  if (!e) encoders.set(level, (e = new zstd.Encoder(level)));
  const z = e.encodeSync(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength));
  return new Uint8Array(z);
}
function inflate(z: Uint8Array, cap: number): Uint8Array {
  const got = inflater.inflate(z, cap);
  if (!(got instanceof Uint8Array)) throw new Error(got.error);
  return got;
}

const MODES: Record<string, PackedMode> = { raw: PackedMode.raw, delta: PackedMode.delta, kind: PackedMode.kind };
let ints = new Int32Array(1 << 20);
let resid = new Int32Array(1 << 20);
let scratch = new Uint8Array(1 << 24);
function widen(values: ColumnArray, count: number): Int32Array {
  if (ints.length < count) ints = new Int32Array(count);
  const v = ints.subarray(0, count);
  v.set(values.subarray(0, count));
  return v;
}

/** Predictors to try: the spec's, and raw. */
function predictors(spec: ColumnSpec): PackedMode[] {
  const s = new Set<PackedMode>([PackedMode.raw, ...spec.predict.map((p) => MODES[p]!)]);
  return [...s];
}

/** Smallest of the spec's predictors (and raw) by the size `f` gives a residual column. */
function bestOf<T extends { bytes: number }>(spec: ColumnSpec, values: ColumnArray, count: number, kinds: Uint8Array, f: (r: Int32Array, m: PackedMode) => T): T {
  const v = widen(values, count);
  if (resid.length < count) resid = new Int32Array(count);
  const r = resid.subarray(0, count);
  let best: T | undefined;
  for (const m of predictors(spec)) {
    residuals(v, count, m, kinds, r);
    const got = f(r, m);
    if (!best || got.bytes < best.bytes) best = got;
  }
  return best!;
}

const lastK = new Int32Array(256);
/** The Int32 array the decoder works in: the column itself when it is 32-bit. */
let decodeInts = new Int32Array(1 << 20);
function workInts(out: ColumnArray, count: number): Int32Array {
  if (out instanceof Int32Array) return out;
  if (out instanceof Uint32Array) return new Int32Array(out.buffer, out.byteOffset, count);
  if (decodeInts.length < count) decodeInts = new Int32Array(count);
  return decodeInts.subarray(0, count);
}
function finish(ints: Int32Array, out: ColumnArray): void {
  if (out instanceof Int32Array || out instanceof Uint32Array) return;
  out.set(ints);
}

function constant(values: ColumnArray, count: number): Enc | undefined {
  return isConstantColumn(values, count) ? { bytes: 3, data: { k: values[0] } } : undefined;
}
function isK(e: Enc): e is Enc & { data: { k: number } } {
  return (e.data as { k?: number }).k !== undefined;
}

/** Byte width that holds every residual (1, 2 or 4). */
function byteWidth(r: Int32Array): 1 | 2 | 4 {
  let or = 0;
  for (let i = 0; i < r.length; i++) or |= r[i]!;
  return (or & ~0xff) === 0 ? 1 : (or & ~0xffff) === 0 ? 2 : 4;
}
function asWidth(r: Int32Array, w: 1 | 2 | 4): Uint8Array {
  const a = w === 1 ? Uint8Array.from(r) : w === 2 ? Uint16Array.from(r) : new Uint32Array(r.buffer, r.byteOffset, r.length).slice();
  return new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
}
/** Byte planes: all values' byte 0, then all byte 1... */
function shuffled(r: Int32Array, w: 1 | 2 | 4): Uint8Array {
  const n = r.length;
  const out = new Uint8Array(n * w);
  for (let b = 0; b < w; b++) for (let i = 0; i < n; i++) out[b * n + i] = (r[i]! >>> (8 * b)) & 0xff;
  return out;
}

function current(): Candidate {
  const enc = new ColumnEncoder('compact');
  return {
    name: 'as written now (decodeColumn)',
    encode(spec, values, count, kinds) {
      const e = enc.encode(spec, values, count, kinds);
      const bytes = e.c === 'k' ? 3 : (e as { d: Uint8Array }).d.byteLength + 6;
      return { bytes, data: structuredClone(e) };
    },
    decode(spec, e, count, out, kinds) {
      decodeColumn(spec, e.data, count, out, kinds);
    },
  };
}

/** The packed codec (PFOR, exceptions), no general-purpose stage. */
function packedAlone(): Candidate {
  return {
    name: 'packed (no zstd)',
    encode(spec, values, count, kinds) {
      const k = constant(values, count);
      if (k) return k;
      if (scratch.length < packedBound(count)) scratch = new Uint8Array(packedBound(count));
      return bestOf(spec, values, count, kinds, (r, m) => {
        const len = packResiduals(r, count, scratch, 'fine');
        return { bytes: len + 6, data: { m, d: scratch.slice(0, len) } };
      });
    },
    decode(_spec, e, count, out, kinds) {
      if (isK(e)) return void out.fill(e.data.k);
      const { m, d } = e.data as { m: PackedMode; d: Uint8Array };
      const w = workInts(out, count);
      unpackValues(d, count, w, m, kinds);
      finish(w, out);
    },
  };
}

/** Residuals at the narrowest byte width for the chunk, little-endian, through zstd (optionally byte planes). */
function zstdWidth(level: number, shuffle: boolean, inflateOnly = false): Candidate {
  return {
    name: `residual bytes${shuffle ? ' shuffled' : ''}+zstd${level}${inflateOnly ? ' INFLATE ONLY' : ''}`,
    encode(spec, values, count, kinds) {
      const k = constant(values, count);
      if (k) return k;
      return bestOf(spec, values, count, kinds, (r, m) => {
        const w = byteWidth(r);
        const z = zenc(shuffle && w > 1 ? shuffled(r, w) : asWidth(r, w), level);
        return { bytes: z.byteLength + 7, data: { m, w, z } };
      });
    },
    decode(_spec, e, count, out, kinds) {
      if (isK(e)) return void out.fill(e.data.k);
      const { m, w, z } = e.data as { m: PackedMode; w: 1 | 2 | 4; z: Uint8Array };
      const bytes = inflate(z, count * w);
      if (inflateOnly) return void inflatedBytes.set(e, bytes.byteLength);
      // A column of its own width with no predictor: one copy.
      if (m === PackedMode.raw && out.BYTES_PER_ELEMENT === w && !shuffle) {
        (out as Uint8Array).set(new (out.constructor as Uint8ArrayConstructor)(bytes.buffer, bytes.byteOffset, count));
        return;
      }
      const ints = workInts(out, count);
      if (!shuffle || w === 1) {
        const view = w === 1 ? bytes : w === 2 ? new Uint16Array(bytes.buffer, bytes.byteOffset, count) : new Int32Array(bytes.buffer, bytes.byteOffset, count);
        ints.set(view);
      } else if (w === 2) {
        const p0 = bytes.subarray(0, count);
        const p1 = bytes.subarray(count, 2 * count);
        for (let i = 0; i < count; i++) ints[i] = p0[i]! | (p1[i]! << 8);
      } else {
        const p0 = bytes.subarray(0, count);
        const p1 = bytes.subarray(count, 2 * count);
        const p2 = bytes.subarray(2 * count, 3 * count);
        const p3 = bytes.subarray(3 * count, 4 * count);
        for (let i = 0; i < count; i++) ints[i] = p0[i]! | (p1[i]! << 8) | (p2[i]! << 16) | (p3[i]! << 24);
      }
      unpredict(ints, count, m, kinds);
      finish(ints, out);
    },
  };
}

/** Kind predictor undone straight from the inflated bytes (no widening pass): one loop per source width. */
function unkindFrom16(src: Uint16Array, out: Int32Array, count: number, kinds: Uint8Array): void {
  lastK.fill(0);
  for (let i = 0; i < count; i++) {
    const c = kinds[i]!;
    const z = src[i]!;
    const v = (lastK[c]! + ((z >>> 1) ^ -(z & 1))) | 0;
    lastK[c] = v;
    out[i] = v;
  }
}
function unkindFrom32(src: Int32Array, out: Int32Array, count: number, kinds: Uint8Array): void {
  lastK.fill(0);
  for (let i = 0; i < count; i++) {
    const c = kinds[i]!;
    const z = src[i]!;
    const v = (lastK[c]! + ((z >>> 1) ^ -(z & 1))) | 0;
    lastK[c] = v;
    out[i] = v;
  }
}
function unkindFrom8(src: Uint8Array, out: Int32Array, count: number, kinds: Uint8Array): void {
  lastK.fill(0);
  for (let i = 0; i < count; i++) {
    const c = kinds[i]!;
    const z = src[i]!;
    const v = (lastK[c]! + ((z >>> 1) ^ -(z & 1))) | 0;
    lastK[c] = v;
    out[i] = v;
  }
}
/** 3-byte little-endian values. */
function from24(src: Uint8Array, out: Int32Array, count: number): void {
  for (let i = 0, o = 0; i < count; i++, o += 3) out[i] = src[o]! | (src[o + 1]! << 8) | (src[o + 2]! << 16);
}

/** Residuals at 1, 2, 3 or 4 bytes, zstd; decoded in one pass from the inflated bytes where the predictor allows. */
function zstdFused(level: number): Candidate {
  return {
    name: `residual 1-4 bytes+zstd${level} fused`,
    encode(spec, values, count, kinds) {
      const k = constant(values, count);
      if (k) return k;
      return bestOf(spec, values, count, kinds, (r, m) => {
        let w: number = byteWidth(r);
        let bytes: Uint8Array;
        if (w === 4 && r.every((x) => (x & ~0xffffff) === 0)) {
          w = 3;
          bytes = new Uint8Array(3 * count);
          for (let i = 0; i < count; i++) {
            bytes[3 * i] = r[i]! & 0xff;
            bytes[3 * i + 1] = (r[i]! >>> 8) & 0xff;
            bytes[3 * i + 2] = (r[i]! >>> 16) & 0xff;
          }
        } else bytes = asWidth(r, w as 1 | 2 | 4);
        const z = zenc(bytes, level);
        return { bytes: z.byteLength + 7, data: { m, w, z } };
      });
    },
    decode(_spec, e, count, out, kinds) {
      if (isK(e)) return void out.fill(e.data.k);
      const { m, w, z } = e.data as { m: PackedMode; w: 1 | 2 | 3 | 4; z: Uint8Array };
      const bytes = inflate(z, count * w);
      if (m === PackedMode.raw && out.BYTES_PER_ELEMENT === w) {
        (out as Uint8Array).set(new (out.constructor as Uint8ArrayConstructor)(bytes.buffer, bytes.byteOffset, count));
        return;
      }
      const ints = workInts(out, count);
      if (m === PackedMode.kind && w !== 3) {
        if (w === 1) unkindFrom8(bytes, ints, count, kinds);
        else if (w === 2) unkindFrom16(new Uint16Array(bytes.buffer, bytes.byteOffset, count), ints, count, kinds);
        else unkindFrom32(new Int32Array(bytes.buffer, bytes.byteOffset, count), ints, count, kinds);
      } else {
        if (w === 3) from24(bytes, ints, count);
        else ints.set(w === 1 ? bytes : w === 2 ? new Uint16Array(bytes.buffer, bytes.byteOffset, count) : new Int32Array(bytes.buffer, bytes.byteOffset, count));
        unpredict(ints, count, m, kinds);
      }
      finish(ints, out);
    },
  };
}

/** The packed codec at byte-friendly widths, always through zstd. */
function packedBytesZstd(level: number): Candidate {
  return {
    name: `packed byte widths+zstd${level}`,
    encode(spec, values, count, kinds) {
      const k = constant(values, count);
      if (k) return k;
      if (scratch.length < packedBound(count)) scratch = new Uint8Array(packedBound(count));
      return bestOf(spec, values, count, kinds, (r, m) => {
        const len = packResiduals(r, count, scratch, 'bytes');
        const z = zenc(scratch.subarray(0, len), level);
        return { bytes: z.byteLength + 8, data: { m, z, len } };
      });
    },
    decode(_spec, e, count, out, kinds) {
      if (isK(e)) return void out.fill(e.data.k);
      const { m, z, len } = e.data as { m: PackedMode; z: Uint8Array; len: number };
      const d = inflate(z, len);
      const w = workInts(out, count);
      unpackValues(d, count, w, m, kinds);
      finish(w, out);
    },
  };
}

/** The candidates by short name (CANDIDATES=now,z3 picks some; all by default). */
const CANDIDATES: Record<string, () => Candidate> = {
  now: current,
  packed: packedAlone,
  pz3: () => packedBytesZstd(3),
  z1: () => zstdWidth(1, false),
  z1s: () => zstdWidth(1, true),
  z3: () => zstdWidth(3, false),
  z3s: () => zstdWidth(3, true),
  z3i: () => zstdWidth(3, false, true),
  f3: () => zstdFused(3),
  z9: () => zstdWidth(9, false),
  z15: () => zstdWidth(15, false),
};
const candidates: Candidate[] = (process.env['CANDIDATES']?.split(',') ?? Object.keys(CANDIDATES)).map((k) => {
  const make = CANDIDATES[k];
  if (!make) throw new Error(`no candidate ${k}: ${Object.keys(CANDIDATES).join(', ')}`);
  return make();
});

// Encode every column of every chunk under every candidate.
const encodeNs: number[] = [];
const encoded = candidates.map((c) => {
  const t0 = cpuUs();
  const e = chunks.map((b) => GUEST_COLUMN_SPECS.map((spec, i) => c.encode(spec, b[cols[i]!] as ColumnArray, b.count, b.kind)));
  encodeNs.push(((cpuUs() - t0) * 1000) / events);
  return e;
});
const outs = GUEST_COLUMN_SPECS.map((s) => allocateColumn(s.type, Math.max(...chunks.map((b) => b.count))));

// Correctness: every candidate decodes every column to its values.
candidates.forEach((c, ci) => {
  chunks.forEach((b, bi) => {
    GUEST_COLUMN_SPECS.forEach((spec, i) => {
      const out = outs[i]!.subarray(0, b.count);
      c.decode(spec, encoded[ci]![bi]![i]!, b.count, out, b.kind);
      if (c.name.includes('INFLATE ONLY')) return;
      const want = b[cols[i]!] as ColumnArray;
      for (let j = 0; j < b.count; j++) if (out[j] !== want[j]) throw new Error(`${c.name} column ${spec.name} chunk ${bi} event ${j}: ${out[j]} != ${want[j]}`);
    });
  });
});

function decodeColumnOf(ci: number, col: number): void {
  const c = candidates[ci]!;
  const spec = GUEST_COLUMN_SPECS[col]!;
  for (let bi = 0; bi < chunks.length; bi++) {
    const b = chunks[bi]!;
    c.decode(spec, encoded[ci]![bi]![col]!, b.count, outs[col]!.subarray(0, b.count), b.kind);
  }
}

// Costs that do not depend on the column encoding (the file as it is).
const check = new ChunkCheck(header);
const fixed: [string, () => void][] = [
  [
    'records: read, CRC, msgpack',
    () => {
      const f = new RecordFile(file, 4 << 20, undefined);
      let at = 13;
      for (let n = 0; ; n++) {
        const r = f.read(at, 'r', n, n);
        at += r.totalBytes;
        if (r.rec['type'] === 'footer') break;
      }
      f.close();
    },
  ],
  ['sha256 of the file', () => void createHash('sha256').update(readFileSync(file)).digest()],
  ['chunk checks', () => chunks.forEach((b) => check.guest(b))],
  [
    'time sum',
    () => {
      let s = 0;
      for (const b of chunks) for (let i = 0; i < b.count; i++) s += b.dtNs[i]!;
      if (s < 0) throw new Error();
    },
  ],
];

const jobs: { key: string; fn: () => void }[] = [];
fixed.forEach(([name, fn]) => jobs.push({ key: `fixed|${name}`, fn }));
candidates.forEach((_, ci) => GUEST_COLUMN_SPECS.forEach((_s, col) => jobs.push({ key: `${ci}|${col}`, fn: () => decodeColumnOf(ci, col) })));
const samples = new Map<string, number[]>();
for (let r = 0; r < reps + 1; r++) {
  for (const j of jobs) {
    const t0 = cpuUs();
    j.fn();
    const us = cpuUs() - t0;
    if (r > 0) (samples.get(j.key) ?? samples.set(j.key, []).get(j.key)!).push(us);
  }
}
const nsPerEvent = (key: string) => (median(samples.get(key)!) * 1000) / events;

console.log(`${file}: ${events.toLocaleString('en-US')} guest events in ${chunks.length} chunks, ${(fileBytes / events).toFixed(2)} bytes/event on disk; CPU ns/event, median of ${reps}`);
let fixedTotal = 0;
for (const [name] of fixed) {
  const ns = nsPerEvent(`fixed|${name}`);
  fixedTotal += ns;
  console.log(`  ${name.padEnd(30)} ${ns.toFixed(2)} ns`);
}
console.log(`  ${'fixed total'.padEnd(30)} ${fixedTotal.toFixed(2)} ns\n`);
const head = ['candidate', ...cols.map((c) => `${c} B / ns`), 'total B', 'total ns', 'encode ns'];
console.log(head.map((h, i) => (i === 0 ? h.padEnd(34) : h.padStart(14))).join(''));
candidates.forEach((c, ci) => {
  let tb = 0;
  let tn = 0;
  const cells = GUEST_COLUMN_SPECS.map((_s, col) => {
    const b = encoded[ci]!.reduce((a, ch) => a + ch[col]!.bytes, 0) / events;
    const ns = nsPerEvent(`${ci}|${col}`);
    tb += b;
    tn += ns;
    return `${b.toFixed(2)} / ${ns.toFixed(2)}`;
  });
  if (c.name.includes('INFLATE ONLY')) {
    const inflated = GUEST_COLUMN_SPECS.map((_s, col) => encoded[ci]!.reduce((a, ch) => a + (inflatedBytes.get(ch[col]!) ?? 0), 0) / events);
    console.log(`${''.padEnd(34)}${inflated.map((b) => `(${b.toFixed(2)} B out)`.padStart(14)).join('')}`);
  }
  console.log([c.name.padEnd(34), ...cells.map((s) => s.padStart(14)), tb.toFixed(2).padStart(14), tn.toFixed(2).padStart(14), encodeNs[ci]!.toFixed(0).padStart(14)].join(''));
});

// What each candidate chose, per column: predictor and width counts over the chunks.
if (process.env['CHOICES']) {
  candidates.forEach((c, ci) => {
    const per = GUEST_COLUMN_SPECS.map((_s, col) => {
      const h = new Map<string, number>();
      for (const ch of encoded[ci]!) {
        const d = ch[col]!.data as { m?: number; w?: number; k?: number; c?: string };
        const key = d.k !== undefined || d.c === 'k' ? 'k' : `m${d.m ?? '?'}${d.w ? `w${d.w}` : ''}`;
        h.set(key, (h.get(key) ?? 0) + 1);
      }
      return [...h].map(([k, n]) => `${k}:${n}`).join(' ');
    });
    console.log(c.name, per.join(' | '));
  });
}

/**
 * LZ4 beside zstd, through its CLI (no LZ4 encoder is installed here):
 * DUMP=PREFIX writes the first candidate's residual bytes before zstd
 * (run with CANDIDATES=z3), one file per column (PREFIX.kind ...); then
 * `lz4 -9 -B4 --no-frame-crc PREFIX.page PREFIX.page.lz4` for each, and
 * LZ4=PREFIX times a JavaScript LZ4 block decoder over those frames.
 */
if (process.env['DUMP']) {
  const prefix = process.env['DUMP'];
  GUEST_COLUMN_SPECS.forEach((s, col) => {
    const parts = chunks.map((b, bi) => {
      const d = encoded[0]![bi]![col]!.data as { z?: Uint8Array };
      return d.z ? inflate(d.z, b.count * 4).slice() : new Uint8Array(0);
    });
    writeFileSync(`${prefix}.${s.name}`, Buffer.concat(parts));
  });
}
if (process.env['LZ4']) {
  const prefix = process.env['LZ4'];
  let tb = 0;
  let tn = 0;
  const cells = GUEST_COLUMN_SPECS.map((s) => {
    const raw = readFileSync(`${prefix}.${s.name}`);
    const z = new Uint8Array(readFileSync(`${prefix}.${s.name}.lz4`));
    const dst = new Uint8Array(raw.length + 64);
    const n = lz4Frame(z, dst);
    if (n !== raw.length || !Buffer.from(dst.buffer, 0, n).equals(raw)) throw new Error(`LZ4 frame ${s.name} does not decode to its bytes`);
    const t: number[] = [];
    for (let r = 0; r < reps; r++) {
      const t0 = cpuUs();
      lz4Frame(z, dst);
      t.push(cpuUs() - t0);
    }
    const ns = (median(t) * 1000) / events;
    const b = z.length / events;
    tb += b;
    tn += ns;
    return `${b.toFixed(2)} / ${ns.toFixed(2)}`;
  });
  console.log([`LZ4 frames ${prefix}.*.lz4 (inflate only)`.padEnd(34), ...cells.map((c) => c.padStart(14)), tb.toFixed(2).padStart(14), tn.toFixed(2).padStart(14)].join(''));
}

/** An LZ4 frame's blocks (independent, no block checksums) decoded into `dst`; returns the bytes written. */
function lz4Frame(src: Uint8Array, dst: Uint8Array): number {
  let s = 4;
  const flg = src[s++]!;
  s++; // BD
  if (flg & 8) s += 8; // content size
  if (flg & 1) s += 4; // dictionary id
  s++; // header checksum
  let d = 0;
  for (;;) {
    const n = (src[s]! | (src[s + 1]! << 8) | (src[s + 2]! << 16) | (src[s + 3]! << 24)) >>> 0;
    s += 4;
    if (n === 0) break;
    if (n & 0x80000000) {
      const k = n & 0x7fffffff;
      dst.set(src.subarray(s, s + k), d);
      d += k;
    } else d = lz4Block(src, s, s + n, dst, d);
    s += n & 0x7fffffff;
    if (flg & 0x10) s += 4;
  }
  return d;
}

/** One LZ4 block (the LZ4 block format: token, literals, offset, match). */
function lz4Block(src: Uint8Array, s: number, end: number, dst: Uint8Array, d: number): number {
  while (s < end) {
    const token = src[s++]!;
    let lit = token >>> 4;
    if (lit === 15) {
      let b: number;
      do lit += b = src[s++]!;
      while (b === 255);
    }
    if (lit < 16) for (let i = 0; i < lit; i++) dst[d++] = src[s++]!;
    else {
      dst.set(src.subarray(s, s + lit), d);
      d += lit;
      s += lit;
    }
    if (s >= end) break;
    const off = src[s]! | (src[s + 1]! << 8);
    s += 2;
    let ml = token & 15;
    if (ml === 15) {
      let b: number;
      do ml += b = src[s++]!;
      while (b === 255);
    }
    ml += 4;
    let m = d - off;
    if (off >= ml && ml > 24) {
      dst.copyWithin(d, m, m + ml);
      d += ml;
    } else for (let i = 0; i < ml; i++) dst[d++] = dst[m++]!;
  }
  return d;
}
