// peekFooter reaches a trace's footer by hopping frame heads: on a good file
// it returns the very record a full read ends with, and wherever the hops
// do not land on a footer (cut short, a broken frame head, bytes after the
// footer) it returns nothing, so the caller's full read reports the defect.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { record } from '../../src/api/record.js';
import { peekFooter } from '../../src/trace/footer-peek.js';
import { TraceReader } from '../../src/trace/trace-reader.js';
import { readRecords, recordBoundaries } from '../helpers/trace-frames.js';
import { tempDir } from '../helpers/temp-dir.js';

const dir = tempDir();
const good = join(dir, 'good.mst');

beforeAll(() => {
  record({ workload: 'apache', seed: 3, out: good, durationNs: 3e8, chunkEvents: 4096 });
});

function variant(name: string, edit: (bytes: Buffer) => Buffer): string {
  const file = join(dir, name);
  writeFileSync(file, edit(readFileSync(good)));
  return file;
}

describe('peekFooter', () => {
  it('returns the footer a full read ends with, over a file of many chunks', () => {
    const records = readRecords(good);
    expect(records.length).toBeGreaterThan(5);
    const reader = TraceReader.open(good);
    while (reader.nextChunk());
    const peeked = peekFooter(good)!;
    expect(peeked).toEqual(records.at(-1));
    expect(peeked['digest']).toBe(reader.footer.digest);
  });

  it('finds no footer in a file cut before it, so the full read names the cut', () => {
    const b = recordBoundaries(readFileSync(good));
    const cut = variant('cut.mst', (bytes) => bytes.subarray(0, b.at(-2)!));
    expect(peekFooter(cut)).toBeUndefined();
    expect(() => {
      const r = TraceReader.open(cut);
      while (r.nextChunk());
    }).toThrow(/no footer/);
  });

  it('finds no footer past a broken frame head or with bytes after the footer', () => {
    const b = recordBoundaries(readFileSync(good));
    const broken = variant('broken.mst', (bytes) => {
      const c = Buffer.from(bytes);
      c[b[2]!] = 0x00;
      return c;
    });
    expect(peekFooter(broken)).toBeUndefined();
    const appended = variant('appended.mst', (bytes) => Buffer.concat([bytes, Buffer.from([0xc6, 0, 0, 0, 0, 0xce, 0, 0, 0, 0])]));
    expect(peekFooter(appended)).toBeUndefined();
  });
});
