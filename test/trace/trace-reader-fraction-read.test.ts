// Checks TraceReader.fractionRead, what progress bars measure a trace read
// by: just past the header once open, growing with each chunk returned,
// and the whole file once the footer is read.
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { TraceReader } from '../../src/trace/trace-reader.js';
import { recordSmallHotSet } from '../helpers/small-trace.js';
import { tempDir } from '../helpers/temp-dir.js';

const dir = tempDir();
const trace = join(dir, 'hs.mst');

beforeAll(() => recordSmallHotSet(trace));

describe('TraceReader.fractionRead', () => {
  it('is past the header once open, grows with every chunk, and is 1 after the footer', () => {
    const reader = TraceReader.open(trace);
    const afterHeader = reader.fractionRead;
    expect(afterHeader).toBeGreaterThan(0);
    const afterChunks: number[] = [];
    reader.forEachChunk(() => afterChunks.push(reader.fractionRead));
    expect(afterChunks).toHaveLength(reader.footer.chunks);
    expect(afterChunks[0]).toBeGreaterThan(afterHeader);
    for (let i = 1; i < afterChunks.length; i++) expect(afterChunks[i]).toBeGreaterThan(afterChunks[i - 1]!);
    expect(afterChunks.at(-1)).toBeLessThan(1);
    expect(reader.fractionRead).toBe(1);
  });
});
