// Checks that a damaged trace (cut short anywhere, or any byte flipped) is
// reported as the project's TraceError with file and offset, and never as
// another exception, a hang or silently wrong events.
import { readdirSync, readFileSync, readlinkSync, writeFileSync } from 'node:fs';
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
