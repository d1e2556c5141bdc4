// Checks TraceReader.bytesRead, what progress bars measure a trace read
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

describe('TraceReader.bytesRead', () => {
  it('is past the header once open, grows with every chunk, and is the file size after the footer', () => {
    const reader = TraceReader.open(trace);
    const afterHeader = reader.bytesRead;
    expect(afterHeader).toBeGreaterThan(0);
    const afterChunks: number[] = [];
    reader.forEachChunk(() => afterChunks.push(reader.bytesRead));
    expect(afterChunks).toHaveLength(reader.footer.chunks);
    expect(afterChunks[0]).toBeGreaterThan(afterHeader);
    for (let i = 1; i < afterChunks.length; i++) expect(afterChunks[i]).toBeGreaterThan(afterChunks[i - 1]!);
    expect(afterChunks.at(-1)).toBeLessThan(reader.fileBytes);
    expect(reader.bytesRead).toBe(reader.fileBytes);
  });
});
