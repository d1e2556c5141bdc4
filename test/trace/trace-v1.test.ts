// Checks that traces of format version 1 (varint and Brotli columns, no file
// digest: the golden traces as they were before version 2) are still read,
// their events' digest checked, and that writing their events again in
// today's format keeps the footer's event digest: the digest covers the
// events, not the encoding. The fixtures are two golden run traces as
// version 1 wrote them (test/fixtures/trace-v1).
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { GUEST_COLUMNS } from '../../src/events/guest-batch.js';
import { RUN_COLUMNS } from '../../src/events/run-batch.js';
import { TraceError } from '../../src/trace/trace-error.js';
import { TRACE_VERSION } from '../../src/trace/trace-records.js';
import { replayRunVerify } from '../../src/verify/replay-run.js';
import { readAllChunks, writeAgain } from '../helpers/read-all-chunks.js';
import { readRecords, writeRecords } from '../helpers/trace-frames.js';
import { tempDir } from '../helpers/temp-dir.js';

const FIXTURES = join(import.meta.dirname, '..', 'fixtures', 'trace-v1');
const V1 = ['boot-pv-pae-checkpoint.mst', 'hotset-hvm-pml-loggedonly-lost.mst'].map((f) => join(FIXTURES, f));
const dir = tempDir();

const readAll = (file: string) => readAllChunks(file);

describe('trace format version 1', () => {
  it('a version 1 run trace reads with its events digest checked, and replays under today\'s rules as its events written in version 2 do', () => {
    // The fixtures' run events were recorded under the rules of their day;
    // a later rule (the bitmap walk charged at each Xen pass, say) makes
    // replay --verify report a difference, as it should. What the format
    // must not change is what the simulator is fed: the same events, read
    // from version 1 or written again in version 2, replay to the same result.
    for (const [i, file] of V1.entries()) {
      const old = readAll(file);
      const { chunks, footer, version } = old;
      expect(version).toBe(1);
      expect(footer.fileDigest).toBeUndefined();
      expect(chunks.length).toBe(footer.chunks);
      const again = join(dir, `replay-${i}.mst`);
      writeAgain(old, again);
      const fromV1 = replayRunVerify(file);
      const fromV2 = replayRunVerify(again);
      expect(fromV1.chunks).toBe(chunks.length);
      expect(fromV1.recordedDigest).toBe(fromV2.recordedDigest);
      expect(fromV1.regeneratedDigest).toBe(fromV2.regeneratedDigest);
      expect(fromV1.identical).toBe(fromV2.identical);
      expect(fromV1.firstDifference).toEqual(fromV2.firstDifference);
      expect(fromV1.summaryIdentical).toBe(fromV2.summaryIdentical);
    }
  });

  it('a version 1 trace whose events do not match its footer digest is a digest mismatch, checksums valid', () => {
    const recs = readRecords(V1[1]!);
    const footer = recs.at(-1)!;
    const file = join(dir, 'v1-digest.mst');
    writeRecords(file, [...recs.slice(0, -1), { ...footer, digest: 'ab'.repeat(32) }]);
    expect(() => readAll(file)).toThrow(TraceError);
    expect(() => readAll(file)).toThrow(/digest mismatch .*\(footer, at byte/);
  });

  it("written again in today's format, a version 1 trace's events keep their footer digest, and read back equal", () => {
    for (const [i, file] of V1.entries()) {
      const old = readAll(file);
      const again = join(dir, `again-${i}.mst`);
      const footer = writeAgain(old, again);
      expect(footer.digest).toBe(old.footer.digest);
      const now = readAll(again);
      expect(now.version).toBe(TRACE_VERSION);
      expect(now.footer.fileDigest).toMatch(/^[0-9a-f]{64}$/);
      expect(now.chunks.length).toBe(old.chunks.length);
      now.chunks.forEach((c, k) => {
        const o = old.chunks[k]!;
        expect(c.stream).toBe(o.stream);
        const cols = c.stream === 'guest' ? GUEST_COLUMNS : RUN_COLUMNS;
        for (const col of cols) expect(Array.from((c.batch as unknown as Record<string, ArrayLike<number>>)[col]!)).toEqual(Array.from((o.batch as unknown as Record<string, ArrayLike<number>>)[col]!));
      });
    }
  });
});
