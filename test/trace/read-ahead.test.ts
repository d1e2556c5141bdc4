// A trace read with a read-ahead thread (src/trace/read-ahead.ts: the
// records after the header read, CRC-checked, hashed and inflated on a
// thread of their own) must hand on exactly what a read on one thread
// does: the same chunks and footer, and for a damaged file the same error,
// word for word, after the same chunks. The thread exists only in the
// built code (dist), so the built reader is held against itself, one thread
// against two, on files damaged every way the corruption tests damage them.
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { beforeAll, describe, expect, it } from 'vitest';
import { record } from '../../src/api/record.js';
import type { TraceReader as SourceReader, TraceReaderOptions } from '../../src/trace/trace-reader.js';
import { readRecords, recordBoundaries, writeRecords } from '../helpers/trace-frames.js';
import { tempDir } from '../helpers/temp-dir.js';

const BUILT = join(import.meta.dirname, '..', '..', 'dist', 'src', 'trace', 'trace-reader.js');
const dir = tempDir();
const good = join(dir, 'good.mst');
let bytes: Buffer;
let Reader: typeof SourceReader;
/** The built ReadAhead, whose columnsAhead pins how many columns of a chunk the thread decodes. */
let Ahead: { columnsAhead: number; busyThreads(): number };

interface Outcome {
  /** A hash of every chunk handed on, in order, and the footer. */
  readonly chunks: string[];
  readonly footer?: string;
  readonly error?: string;
  readonly threaded: boolean;
}

function read(file: string, readAhead: 'inline' | 'thread', options: TraceReaderOptions = {}): Outcome {
  const chunks: string[] = [];
  let threaded = false;
  try {
    const r = Reader.open(file, { ...options, readAhead });
    const footer = r.forEachChunk((c) => {
      // The thread is started at the first chunk.
      threaded ||= r.readsAhead;
      const h = createHash('sha256').update(`${c.stream} ${c.seq} ${c.batch.count} ${c.batch.baseNs} ${c.batch.endNs}`);
      for (const col of Object.values(c.batch)) if (ArrayBuffer.isView(col)) h.update(new Uint8Array(col.buffer, col.byteOffset, c.batch.count * (col as Uint8Array).BYTES_PER_ELEMENT));
      chunks.push(h.digest('hex'));
    });
    return { chunks, footer: JSON.stringify(footer), threaded };
  } catch (e) {
    return { chunks, error: (e as Error).message, threaded };
  }
}

/** The file read both ways: the outcomes must be one, and the thread must have been used where the header was readable. */
function same(file: string, options: TraceReaderOptions = {}): Outcome {
  const one = read(file, 'inline', options);
  const two = read(file, 'thread', options);
  expect(two.error).toBe(one.error);
  expect(two.chunks).toEqual(one.chunks);
  expect(two.footer).toBe(one.footer);
  expect(one.threaded).toBe(false);
  return two;
}

beforeAll(async () => {
  if (!existsSync(BUILT)) throw new Error(`${BUILT} is missing: build first (npx tsc -p tsconfig.json)`);
  Reader = ((await import(pathToFileURL(BUILT).href)) as { TraceReader: typeof SourceReader }).TraceReader;
  Ahead = ((await import(pathToFileURL(join(BUILT, '..', 'read-ahead.js')).href)) as { ReadAhead: typeof Ahead }).ReadAhead;
  // Apache (an MMU workload: every column packed, most through Zstandard)
  // in small chunks, so that the thread runs ahead of the reader and waits.
  record({ workload: 'apache', seed: 3, out: good, durationNs: 1e9, chunkEvents: 4096 });
  bytes = readFileSync(good);
});

describe('trace read-ahead thread', () => {
  it('hands on the same chunks and footer as a read on one thread, and is used', () => {
    const out = same(good);
    expect(out.error).toBeUndefined();
    expect(out.threaded).toBe(true);
    expect(out.chunks.length).toBeGreaterThan(20);
    expect(same(good, { verifyDigest: false }).error).toBeUndefined();
  });

  it('a cut anywhere is the same truncation error after the same chunks', () => {
    const b = recordBoundaries(bytes);
    const file = join(dir, 'cut.mst');
    // Each thread start costs a few tenths of a second on a loaded machine:
    // the boundaries next to the header, a few the thread has run ahead of,
    // and the footer's, at and inside each.
    const at = [1, 2, 3, 9, b.length - 3, b.length - 2].map((i) => b[i]!);
    const cuts = [...at, ...at.map((x) => x + 3), b[b.length - 2]! + 40, bytes.length - 1];
    for (const cut of cuts) {
      writeFileSync(file, bytes.subarray(0, cut));
      expect(same(file).error).toMatch(/truncated/);
    }
  });

  it('a flipped byte anywhere after the header is the same error after the same chunks', () => {
    const file = join(dir, 'flip.mst');
    const start = recordBoundaries(bytes)[1]!;
    let s = 7;
    for (let i = 0; i < 30; i++) {
      s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
      const at = start + (s % (bytes.length - start));
      const flipped = Buffer.from(bytes);
      flipped[at] = flipped[at]! ^ (1 + ((s >>> 24) % 255));
      writeFileSync(file, flipped);
      expect(same(file).error).toBeDefined();
    }
  });

  it('a Zstandard column that does not inflate, its CRC intact, is refused at its chunk in the same words', () => {
    const records = readRecords(good);
    const k = 5;
    const cols = (records[k]!['cols'] as Record<string, unknown>[]).map((c) => ({ ...c }));
    const z = cols.findIndex((c) => c['z'] === 'zstd');
    expect(z).toBeGreaterThanOrEqual(0);
    const d = Buffer.from(cols[z]!['d'] as Uint8Array);
    d[d.length >> 1] = d[d.length >> 1]! ^ 0xff;
    d[(d.length >> 1) + 1] = d[(d.length >> 1) + 1]! ^ 0x5a;
    cols[z] = { ...cols[z], d };
    const file = join(dir, 'zstd.mst');
    writeRecords(file, records.map((r, i) => (i === k ? { ...r, cols } : r)));
    const out = same(file);
    expect(out.error).toMatch(/chunk \d+/);
    expect(out.chunks.length).toBe(k - 1);
  });

  it('whichever thread decodes each column (the split pinned at every column), a bad column is the same error at the same chunk, and a good file the same chunks', () => {
    const records = readRecords(good);
    const k = 4;
    const cols = records[k]!['cols'] as Record<string, unknown>[];
    const zstd = cols.flatMap((c, i) => (c['z'] === 'zstd' ? [i] : []));
    // The first and the last Zstandard columns: decoded by the thread or left to the reader, depending on the split.
    const files = [zstd[0]!, zstd[zstd.length - 1]!].map((z) => {
      const damaged = cols.map((c) => ({ ...c }));
      const d = Buffer.from(damaged[z]!['d'] as Uint8Array);
      d[d.length >> 1] = d[d.length >> 1]! ^ 0xff;
      d[(d.length >> 1) + 1] = d[(d.length >> 1) + 1]! ^ 0x5a;
      damaged[z] = { ...damaged[z], d };
      const file = join(dir, `split-${z}.mst`);
      writeRecords(file, records.map((r, i) => (i === k ? { ...r, cols: damaged } : r)));
      return file;
    });
    // A column predicted from the kinds, with the kinds on the other thread: a packed column refused for its predictor.
    const kindPredicted = cols.findIndex((c) => c['m'] === 2);
    expect(kindPredicted).toBeGreaterThan(0);
    const badMode = join(dir, 'split-mode.mst');
    writeRecords(badMode, records.map((r, i) => (i === k ? { ...r, cols: cols.map((c, j) => (j === kindPredicted ? { ...c, m: 7 } : c)) } : r)));
    // A byte column of a width no column has, and the last column's bytes one value short: refused by whichever thread decodes them.
    const badWidth = join(dir, 'split-width.mst');
    writeRecords(badWidth, records.map((r, i) => (i === k ? { ...r, cols: cols.map((c, j) => (j === kindPredicted ? { ...c, w: 3 } : c)) } : r)));
    const last = cols.length - 1;
    expect(cols[last]!['z']).toBe('zstd');
    const lastBytes = inflated(cols[last]!['d'] as Uint8Array);
    const shortLast = join(dir, 'split-short.mst');
    writeRecords(shortLast, records.map((r, i) => (i === k ? { ...r, cols: cols.map((c, j) => (j === last ? { c: 'b', m: c['m'], w: c['w'], d: lastBytes.subarray(0, lastBytes.length - (c['w'] as number)) } : c)) } : r)));
    try {
      for (const split of [0, 1, 2, 3, 4, 5, Infinity]) {
        Ahead.columnsAhead = split;
        expect(same(good).chunks.length).toBeGreaterThan(20);
        for (const file of [...files, badMode, badWidth, shortLast]) {
          const out = same(file);
          expect(out.error).toMatch(/chunk \d+/);
          expect(out.chunks.length).toBe(k - 1);
        }
      }
    } finally {
      Ahead.columnsAhead = Infinity;
    }
  });

  it('a chunk holding an event migsim could not have written (a vCPU the guest lacks), or times that do not add up, its CRC intact, is the same error at the same chunk whichever thread decodes its columns', () => {
    const records = readRecords(good);
    const k = 6;
    const cols = records[k]!['cols'] as Record<string, unknown>[];
    const badVcpu = join(dir, 'bad-vcpu.mst');
    writeRecords(badVcpu, records.map((r, i) => (i === k ? { ...r, cols: cols.map((c, j) => (j === 2 ? { c: 'k', v: 9 } : c)) } : r)));
    // Times that do not add up to the chunk's end: found before the events.
    const badEnd = join(dir, 'bad-end.mst');
    writeRecords(badEnd, records.map((r, i) => (i === k ? { ...r, endNs: (r['endNs'] as number) + 1 } : r)));
    try {
      for (const split of [0, 3, Infinity]) {
        Ahead.columnsAhead = split;
        const vcpu = same(badVcpu);
        expect(vcpu.error).toMatch(/on vCPU 9, but the guest has 2 vCPUs \(chunk \d+ \(guest\), event 0,/);
        expect(vcpu.chunks.length).toBe(k - 1);
        const end = same(badEnd);
        expect(end.error).toMatch(/chunk's times add up to \d+ ns, not its end/);
        expect(end.chunks.length).toBe(k - 1);
      }
    } finally {
      Ahead.columnsAhead = Infinity;
    }
  });

  it('bytes other than those recorded, the events the same, fail the file digest at the footer in the same words', () => {
    // A Zstandard column stored as the packed bytes it inflates to: the
    // events are the same (so is the footer's digest of them), the bytes not.
    const records = readRecords(good);
    const k = 3;
    const cols = (records[k]!['cols'] as Record<string, unknown>[]).map((c) => ({ ...c }));
    const z = cols.findIndex((c) => c['z'] === 'zstd');
    const { z: _, ...plain } = cols[z]!;
    cols[z] = { ...plain, d: inflated(cols[z]!['d'] as Uint8Array) };
    const file = join(dir, 'digest.mst');
    writeRecords(file, records.map((r, i) => (i === k ? { ...r, cols } : r)), { keepFileDigest: true });
    const out = same(file);
    expect(out.error).toMatch(/file digest mismatch/);
    expect(out.chunks.length).toBe(records.length - 2);
  });

  it('reads a version 1 trace (varint and Brotli columns, the digest of the events) as one thread does', () => {
    const fixtures = join(import.meta.dirname, '..', 'fixtures', 'trace-v1');
    for (const f of ['boot-pv-pae-checkpoint.mst', 'hotset-hvm-pml-loggedonly-lost.mst']) expect(same(join(fixtures, f)).error).toBeUndefined();
  });

  it('reads a version 2 trace (bit-packed columns through zstd 1) as one thread does, at every split of its columns', () => {
    const fixtures = join(import.meta.dirname, '..', 'fixtures', 'trace-v2');
    try {
      for (const split of [0, 3, Infinity]) {
        Ahead.columnsAhead = split;
        for (const f of ['hotset-hvm-pml-loggedonly-lost.mst', 'muncher-hvm-hap-xen-noconverge.mst']) expect(same(join(fixtures, f)).error).toBeUndefined();
      }
    } finally {
      Ahead.columnsAhead = Infinity;
    }
  });

  it('a reader closed after its first chunk lets its thread go to the next reader', () => {
    const r = Reader.open(good, { readAhead: 'thread' });
    expect(r.readsAhead).toBe(false);
    expect(r.nextChunk()).toBeDefined();
    expect(r.readsAhead).toBe(true);
    r.close();
    expect(r.readsAhead).toBe(false);
    const out = read(good, 'thread');
    expect(out.threaded).toBe(true);
    expect(out.chunks).toEqual(read(good, 'inline').chunks);
  });

  it('a reader dropped without close(), its thread waiting for room, lets the thread go once it is collected', async () => {
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as () => void;
    const before = Ahead.busyThreads();
    (() => {
      const r = Reader.open(good, { readAhead: 'thread' });
      expect(r.nextChunk()).toBeDefined();
      expect(r.readsAhead).toBe(true);
    })();
    expect(Ahead.busyThreads()).toBe(before + 1);
    // Finalizers run after a collection, in a later task.
    for (let k = 0; k < 50 && Ahead.busyThreads() > before; k++) {
      gc();
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    expect(Ahead.busyThreads()).toBe(before);
    // The thread has dropped that trace and reads the next reader's.
    const out = read(good, 'thread');
    expect(out.threaded).toBe(true);
    expect(out.chunks).toEqual(read(good, 'inline').chunks);
  });

  it('readers open at once, read in turns, each read whole: one per spare core reads ahead, the others on their own thread', () => {
    const readers = [0, 1, 2].map(() => Reader.open(good, { readAhead: 'thread' }));
    const chunks: string[][] = [[], [], []];
    const done = [false, false, false];
    while (done.includes(false)) {
      readers.forEach((r, i) => {
        if (done[i]) return;
        const c = r.nextChunk();
        if (c) chunks[i]!.push(`${c.seq} ${c.batch.endNs}`);
        else done[i] = true;
      });
    }
    expect(chunks[1]).toEqual(chunks[0]);
    expect(chunks[2]).toEqual(chunks[0]);
    expect(chunks[0]!.length).toBeGreaterThan(20);
  });
});

/** A Zstandard frame's content, through the zstd binding the reader uses. */
function inflated(z: Uint8Array): Uint8Array {
  const { Decoder } = createRequire(import.meta.url)('@toondepauw/node-zstd') as typeof import('@toondepauw/node-zstd');
  return new Uint8Array(new Decoder().decodeSync(Buffer.from(z)));
}
