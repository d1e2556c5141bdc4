// Checks that a damaged trace (cut short anywhere, or any byte flipped) is
// reported as the project's TraceError with file and offset, and never as
// another exception, a hang or silently wrong events.
import { readdirSync, readFileSync, readlinkSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { record } from '../../src/api/record.js';
import { TraceError } from '../../src/trace/trace-error.js';
import { TraceReader } from '../../src/trace/trace-reader.js';
import { chunkColumns, recordBoundaries, readRecords, withColumns, writeRecords } from '../helpers/trace-frames.js';
import { tempDir } from '../helpers/temp-dir.js';

const dir = tempDir();
const good = join(dir, 'good.mst');
let bytes: Buffer;

function readAll(file: string): void {
  const r = TraceReader.open(file);
  r.forEachChunk(() => {});
}

function expectTraceError(file: string): TraceError {
  try {
    readAll(file);
  } catch (e) {
    expect(e).toBeInstanceOf(TraceError);
    const te = e as TraceError;
    expect(te.message.startsWith(file)).toBe(true);
    expect(te.message).not.toContain('\n');
    return te;
  }
  throw new Error(`${file} was read without an error`);
}

beforeAll(() => {
  record({ workload: 'hot-set', seed: 5, out: good, durationNs: 20e6, memBytes: 16 << 20, chunkEvents: 2000, settings: { rate: 400_000 } });
  bytes = readFileSync(good);
});

describe('trace corruption', () => {
  it('the undamaged file reads cleanly (the baseline for the cases below)', () => {
    expect(() => readAll(good)).not.toThrow();
    expect(recordBoundaries(bytes).length).toBeGreaterThan(5);
  });

  it('truncation at every record boundary, and inside each record, is a truncation error', () => {
    const cuts = new Set<number>([0, 1, 5, 13]);
    for (const b of recordBoundaries(bytes).slice(0, -1)) for (const d of [0, 1, 3, 6, 40]) cuts.add(b + d);
    const file = join(dir, 'cut.mst');
    for (const cut of [...cuts].filter((c) => c < bytes.length)) {
      writeFileSync(file, bytes.subarray(0, cut));
      const e = expectTraceError(file);
      expect(e.message).toMatch(cut < 13 ? /wrong magic|truncated/ : /truncated/);
    }
  });

  it('a cut at the last record boundary names the chunk after which the footer is missing', () => {
    const b = recordBoundaries(bytes);
    const file = join(dir, 'nofooter.mst');
    writeFileSync(file, bytes.subarray(0, b[b.length - 2]));
    expect(expectTraceError(file).message).toMatch(/truncated: after chunk \d+ \(no footer\) \(at byte [\d,]+\): the recording was interrupted/);
  });

  it('any single flipped byte is caught, at many random positions', () => {
    const file = join(dir, 'flip.mst');
    let s = 99;
    for (let i = 0; i < 400; i++) {
      s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
      const at = s % bytes.length;
      const flipped = Buffer.from(bytes);
      flipped[at] = flipped[at]! ^ (1 + (s >>> 24) % 255);
      writeFileSync(file, flipped);
      expectTraceError(file);
    }
  });

  it('a wrong magic says the file is not a migsim trace', () => {
    const file = join(dir, 'magic.mst');
    writeFileSync(file, Buffer.concat([Buffer.from('PK\x03\x04'), bytes.subarray(4)]));
    expect(expectTraceError(file).message).toContain('not a migsim trace (wrong magic)');
  });

  it('an unknown format version is refused with the version it found', () => {
    const recs = readRecords(good);
    const file = join(dir, 'v9.mst');
    writeRecords(file, [{ ...recs[0], version: 9 }, ...recs.slice(1)]);
    expect(expectTraceError(file).message).toContain('unknown trace format version 9 (header, at byte 13)');
  });

  it("a footer whose event digest was edited, checksums valid, fails the file digest (it covers the event digest too)", () => {
    const recs = readRecords(good);
    const footer = recs[recs.length - 1]!;
    const file = join(dir, 'digest.mst');
    writeRecords(file, [...recs.slice(0, -1), { ...footer, digest: 'ab'.repeat(32) }], { keepFileDigest: true });
    expect(expectTraceError(file).message).toMatch(/file digest mismatch .*\(footer, at byte/);
  });

  it('a chunk whose events were changed and re-framed with a valid checksum fails the file digest', () => {
    const recs = readRecords(good);
    const chunk = recs[1]!;
    const cols = chunkColumns(chunk)!;
    // Another page for the first event, still one the guest has: only the digest can tell.
    const page = cols[3] as Int32Array;
    page[0] = (page[0]! + 1) % 4096;
    const file = join(dir, 'edited-chunk.mst');
    writeRecords(file, [recs[0]!, withColumns(chunk, cols), ...recs.slice(2)], { keepFileDigest: true });
    expect(expectTraceError(file).message).toMatch(/file digest mismatch .*\(footer, at byte/);
  });

  it('the file digest is of the bytes before the footer and then the event digest: recomputed so, the edited trace reads', () => {
    const recs = readRecords(good);
    const footer = recs.at(-1)! as { fileDigest: string };
    const file = join(dir, 'same.mst');
    writeRecords(file, recs);
    expect((readRecords(file).at(-1) as { fileDigest: string }).fileDigest).toBe(footer.fileDigest);
    expect(readFileSync(file).equals(bytes)).toBe(true);
  });

  it('bytes appended after the footer are reported', () => {
    const file = join(dir, 'tail.mst');
    writeFileSync(file, Buffer.concat([bytes, Buffer.from([0])]));
    expect(expectTraceError(file).message).toContain('1 unexpected bytes after the footer');
  });

  it('a reader whose caller throws partway (a report that fails, say) has its file closed', () => {
    const openOnGood = () => readdirSync('/proc/self/fd').filter((fd) => {
      try {
        return readlinkSync(`/proc/self/fd/${fd}`) === good;
      } catch {
        return false;
      }
    }).length;
    const r = TraceReader.open(good);
    expect(openOnGood()).toBe(1);
    expect(() =>
      r.forEachChunk(() => {
        throw new Error('the caller gave up');
      }),
    ).toThrow('the caller gave up');
    expect(openOnGood()).toBe(0);
  });
});

// Version 3's byte columns (src/trace/byte-residual-codec.ts) carry their
// own fields: a predictor tag, a byte width, and bytes that must come to
// exactly count * width. Each defect, checksums and file digest made valid
// again (so that only the column's own check can see it), is one TraceError
// naming the chunk and the column.
describe('trace corruption: byte columns (version 3)', () => {
  type Zstd = typeof import('@toondepauw/node-zstd');
  const zstd = createRequire(import.meta.url)('@toondepauw/node-zstd') as Zstd;

  /** The first chunk's record index, and its first column stored through Zstandard. */
  function firstZstdColumn(recs: Record<string, unknown>[]): { k: number; col: number; cols: Record<string, unknown>[]; name: string } {
    const k = recs.findIndex((r) => r['type'] === 'chunk');
    const cols = (recs[k]!['cols'] as Record<string, unknown>[]).map((c) => ({ ...c }));
    const col = cols.findIndex((c) => c['c'] === 'b' && c['z'] === 'zstd');
    expect(col).toBeGreaterThanOrEqual(0);
    return { k, col, cols, name: ['kind', 'dtNs', 'vcpu', 'page', 'arg', 'pte'][col]! };
  }

  function damaged(name: string, edit: (c: Record<string, unknown>) => Record<string, unknown>): { file: string; column: string } {
    const recs = readRecords(good);
    const { k, col, cols, name: column } = firstZstdColumn(recs);
    cols[col] = edit(cols[col]!);
    const file = join(dir, `${name}.mst`);
    writeRecords(file, recs.map((r, i) => (i === k ? { ...r, cols } : r)));
    return { file, column };
  }

  it('the chunks are written as byte columns through Zstandard, each with its predictor and width', () => {
    const recs = readRecords(good);
    const { cols } = firstZstdColumn(recs);
    for (const c of cols.filter((c) => c['c'] === 'b')) {
      expect([0, 1, 2]).toContain(c['m']);
      expect([1, 2, 4]).toContain(c['w']);
    }
  });

  it('a width other than 1, 2 or 4 bytes is refused at its chunk and column', () => {
    for (const w of [3, 0, 8, '4']) {
      const { file, column } = damaged(`width-${w}`, (c) => ({ ...c, w }));
      const want = `byte column ${column} has width ${w}, not 1, 2 or 4 bytes (chunk 0, at byte `;
      expect(expectTraceError(file).message).toContain(want);
    }
  });

  it('an unknown predictor tag is refused at its chunk and column', () => {
    const { file, column } = damaged('predictor', (c) => ({ ...c, m: 7 }));
    expect(expectTraceError(file).message).toContain(`byte column ${column} has unknown predictor 7 (chunk 0, at byte `);
  });

  it('bytes that inflate to one value short, or are stored one byte long, are refused with both lengths', () => {
    const recs = readRecords(good);
    const { cols, col } = firstZstdColumn(recs);
    const count = recs.find((r) => r['type'] === 'chunk')!['count'] as number;
    const w = cols[col]!['w'] as number;
    const full = new zstd.Decoder().decodeSync(Buffer.from(cols[col]!['d'] as Uint8Array));
    expect(full.length).toBe(count * w);
    const short = damaged('short', (c) => ({ ...c, d: new Uint8Array(new zstd.Encoder(3).encodeSync(full.subarray(0, full.length - w))) }));
    expect(expectTraceError(short.file).message).toContain(
      `byte column ${short.column} inflates to ${(count * w - w).toLocaleString('en-US')} bytes, not the ${(count * w).toLocaleString('en-US')} of its ${count.toLocaleString('en-US')} values of ${w} bytes (chunk 0, at byte `,
    );
    const long = damaged('long', (c) => ({ m: c['m'], w: c['w'], c: 'b', d: new Uint8Array(Buffer.concat([full, Buffer.from([0])])) }));
    expect(expectTraceError(long.file).message).toContain(`byte column ${long.column} holds ${(count * w + 1).toLocaleString('en-US')} bytes, not the `);
    // The same bytes stored as they are read back as the events recorded (the file digest recomputed over them).
    const plain = damaged('plain', (c) => ({ m: c['m'], w: c['w'], c: 'b', d: new Uint8Array(full) }));
    expect(() => readAll(plain.file)).not.toThrow();
  });

  it('a raw byte column wider than its column type, holding a value it cannot, is refused (not cut to the width)', () => {
    const recs = readRecords(good);
    const k = recs.findIndex((r) => r['type'] === 'chunk');
    const count = recs[k]!['count'] as number;
    const cols = (recs[k]!['cols'] as Record<string, unknown>[]).map((c) => ({ ...c }));
    // The vCPU column (u16) as raw 4-byte values, the first one 65536 + its own.
    const vcpus = new Uint32Array(count).fill(0);
    vcpus[0] = 65_536;
    cols[2] = { c: 'b', m: 0, w: 4, d: new Uint8Array(vcpus.buffer) };
    const file = join(dir, 'wide.mst');
    writeRecords(file, recs.map((r, i) => (i === k ? { ...r, cols } : r)));
    expect(expectTraceError(file).message).toContain('byte column vcpu holds 65536 at event 0, which a u16 column cannot (0 to 65535) (chunk 0, at byte ');
  });
});
