// Checks how the compact encoder picks a column's predictor
// (src/trace/column-codec.ts PREDICTOR_UNDO_BYTES): undoing the kind
// predictor costs the reader time an event, so a column is predicted by
// kind only where that saves bytes worth it, 0.37 an event, or halves the
// column. Apache's arg and PTEs (kind saves a little) are stored raw; the
// sequential muncher's store sizes (kind saves most of their few bytes)
// keep it.
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { record } from '../../src/api/record.js';
import { copyGuestBatch, type GuestBatch } from '../../src/events/guest-batch.js';
import { ColumnEncoder, type ColumnSpec } from '../../src/trace/column-codec.js';
import { GUEST_COLUMN_SPECS } from '../../src/trace/column-specs.js';
import { PackedMode, residuals } from '../../src/trace/packed-codec.js';
import { TraceReader } from '../../src/trace/trace-reader.js';
import { tempDir } from '../helpers/temp-dir.js';

const dir = tempDir();

/** The guest chunk `k` of 3 s of the workload (apache's first is its start, whose PTEs the kind predictor halves). */
function chunkOf(workload: string, k: number, settings?: Record<string, number>): GuestBatch {
  const file = join(dir, `${workload}.mst`);
  record({ workload, seed: 1, out: file, durationNs: 3e9, ...(settings ? { settings } : {}) });
  const chunks: GuestBatch[] = [];
  TraceReader.open(file, { readAhead: 'inline' }).forEachChunk((c) => {
    if (c.stream === 'guest') chunks.push(copyGuestBatch(c.batch));
  });
  return chunks[k]!;
}

type Encoded = { c: string; m?: number; d?: Uint8Array };

function encode(b: GuestBatch, name: 'page' | 'arg' | 'pte', spec = GUEST_COLUMN_SPECS.find((s) => s.name === name)!): Encoded {
  return new ColumnEncoder('compact').encode(spec, b[name], b.count, b.kind) as Encoded;
}

describe('compact encoder: the predictor of a column', () => {
  it("apache's arg and PTEs are stored raw, though by kind they would be smaller by less than half and under 0.37 bytes an event", () => {
    const b = chunkOf('apache', 2);
    for (const name of ['arg', 'pte'] as const) {
      const chosen = encode(b, name);
      expect(chosen.c).toBe('b');
      expect(chosen.m).toBe(PackedMode.raw);
      // What the kind predictor would store, encoded by kind alone.
      const spec = GUEST_COLUMN_SPECS.find((s) => s.name === name)!;
      const kindBytes = forcedKind(spec, b, name);
      expect(kindBytes).toBeLessThan(chosen.d!.length);
      expect(kindBytes).toBeGreaterThan(chosen.d!.length / 2);
      expect((chosen.d!.length - kindBytes) / b.count).toBeLessThan(0.37);
    }
  });

  it("the sequential muncher's store sizes keep the kind predictor: it more than halves them, though it saves under 0.37 bytes an event", () => {
    // The muncher of the golden traces: 40,000 pages a second, with its kernel's events between.
    const b = chunkOf('muncher', 2, { rate: 40_000 });
    const chosen = encode(b, 'arg');
    expect(chosen.m).toBe(PackedMode.kind);
    const raw = encode(b, 'arg', { ...GUEST_COLUMN_SPECS.find((s) => s.name === 'arg')!, predict: ['raw'] });
    expect(chosen.d!.length).toBeLessThan(raw.d!.length / 2);
    expect((raw.d!.length - chosen.d!.length) / b.count).toBeLessThan(0.37);
  });
});

/** The stored bytes of the column by kind: its kind residuals (packed-codec.ts), stored by the encoder as raw values, raw never tried on the column itself. */
function forcedKind(spec: ColumnSpec, b: GuestBatch, name: 'arg' | 'pte'): number {
  const r = new Int32Array(b.count);
  residuals(b[name], b.count, PackedMode.kind, b.kind, r);
  const e = new ColumnEncoder('compact').encode({ ...spec, type: 'i32', predict: ['raw'] }, r, b.count) as Encoded;
  return e.d!.length;
}
