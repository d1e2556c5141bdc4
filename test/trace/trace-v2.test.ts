// Checks that traces of format version 2 (bit-packed columns through
// Zstandard level 1, src/trace/packed-codec.ts: the golden traces as they
// were before version 3's byte columns) are still read, their file digest
// checked, and hold the same events as today's goldens of the same name:
// version 3 changed how the columns are stored, not one event. The
// fixtures are two golden run traces as version 2 wrote them
// (test/fixtures/trace-v2, copied from traces/golden before issue 16 item 3
// re-recorded them).
import { statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { GUEST_COLUMNS } from '../../src/events/guest-batch.js';
import { RUN_COLUMNS } from '../../src/events/run-batch.js';
import type { TraceChunk } from '../../src/trace/trace-reader.js';
import { TRACE_VERSION } from '../../src/trace/trace-records.js';
import { readAllChunks, writeAgain } from '../helpers/read-all-chunks.js';
import { readRecords } from '../helpers/trace-frames.js';
import { tempDir } from '../helpers/temp-dir.js';

const FIXTURES = join(import.meta.dirname, '..', 'fixtures', 'trace-v2');
const GOLDEN = join(import.meta.dirname, '..', '..', 'traces', 'golden');
const NAMES = ['hotset-hvm-pml-loggedonly-lost.mst', 'muncher-hvm-hap-xen-noconverge.mst'];
const dir = tempDir();

const readAll = (file: string) => readAllChunks(file, { readAhead: 'inline' });

/** Every column of every chunk, equal in order, stream and values. */
function expectSameChunks(a: TraceChunk[], b: TraceChunk[]): void {
  expect(a.length).toBe(b.length);
  a.forEach((c, k) => {
    const o = b[k]!;
    expect([c.stream, c.batch.count, c.batch.baseNs, c.batch.endNs]).toEqual([o.stream, o.batch.count, o.batch.baseNs, o.batch.endNs]);
    const cols = c.stream === 'guest' ? GUEST_COLUMNS : RUN_COLUMNS;
    for (const col of cols) {
      const x = (c.batch as unknown as Record<string, Uint8Array>)[col]!;
      const y = (o.batch as unknown as Record<string, Uint8Array>)[col]!;
      expect(Buffer.from(x.buffer, x.byteOffset, x.byteLength).equals(Buffer.from(y.buffer, y.byteOffset, y.byteLength))).toBe(true);
    }
  });
}

describe('trace format version 2', () => {
  it('a version 2 trace reads with its file digest checked, its columns the packed ones version 2 wrote', () => {
    for (const name of NAMES) {
      const file = join(FIXTURES, name);
      const { chunks, footer, version } = readAll(file);
      expect(version).toBe(2);
      expect(footer.fileDigest).toMatch(/^[0-9a-f]{64}$/);
      expect(chunks.length).toBe(footer.chunks);
      const kinds = new Set(readRecords(file).flatMap((r) => (r['type'] === 'chunk' ? (r['cols'] as { c: string }[]).map((c) => c.c) : [])));
      expect(kinds.has('p')).toBe(true);
      expect(kinds.has('b')).toBe(false);
    }
  });

  it("holds the same guest events, chunk by chunk, as today's golden of the same name (the format changed, the events did not)", () => {
    // The guest stream only: a later rule of a tracker or policy changes
    // the goldens' run events (and digest) but not the workload's events.
    // When version 3 re-recorded the goldens (commit "Goldens re-recorded
    // ... version 3") run events, footer digests and replay --json were
    // identical too.
    const guest = (cs: TraceChunk[]) => cs.filter((c) => c.stream === 'guest');
    for (const name of NAMES) {
      const old = readAll(join(FIXTURES, name));
      const now = readAll(join(GOLDEN, name));
      expect(now.version).toBe(TRACE_VERSION);
      expect(guest(old.chunks).length).toBeGreaterThan(0);
      expect(now.footer.guestEvents).toBe(old.footer.guestEvents);
      expectSameChunks(guest(now.chunks), guest(old.chunks));
    }
  });

  it("written again in today's format, a version 2 trace keeps its events and their digest, in byte columns and fewer bytes", () => {
    for (const [i, name] of NAMES.entries()) {
      const file = join(FIXTURES, name);
      const old = readAll(file);
      const again = join(dir, `again-${i}.mst`);
      const footer = writeAgain(old, again);
      expect(footer.digest).toBe(old.footer.digest);
      const now = readAll(again);
      expect(now.version).toBe(TRACE_VERSION);
      expectSameChunks(now.chunks, old.chunks);
      const kinds = new Set(readRecords(again).flatMap((r) => (r['type'] === 'chunk' ? (r['cols'] as { c: string }[]).map((c) => c.c) : [])));
      expect(kinds.has('p')).toBe(false);
      expect(statSync(again).size).toBeLessThan(statSync(file).size);
    }
  });
});
