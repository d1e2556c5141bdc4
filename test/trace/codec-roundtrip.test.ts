// Checks that every column encoding and the whole trace file give back
// exactly the events that went in, column types included.
import { join } from 'node:path';
import fc from 'fast-check';
import { Packr, Unpackr } from 'msgpackr';
import { describe, expect, it } from 'vitest';
import { copyGuestBatch, type GuestBatch, GUEST_COLUMNS } from '../../src/events/guest-batch.js';
import { GuestBatchBuilder } from '../../src/events/guest-batch-builder.js';
import { GUEST_EVENT_KIND_COUNT, GuestEventKind, NO_VCPU } from '../../src/events/guest-event-kind.js';
import { allocateColumn, COLUMN_ENCODINGS, ColumnEncoder, decodeColumn } from '../../src/trace/column-codec.js';
import { GUEST_COLUMN_SPECS } from '../../src/trace/column-specs.js';
import { record } from '../../src/api/record.js';
import { TraceReader } from '../../src/trace/trace-reader.js';
import { TRACE_FORMAT, TRACE_VERSION, type TraceHeader } from '../../src/trace/trace-records.js';
import { traceCodecOptions, TraceWriter } from '../../src/trace/trace-writer.js';
import { tempDir } from '../helpers/temp-dir.js';

const dir = tempDir();

const eventArb = fc.record({
  kind: fc.integer({ min: 0, max: GUEST_EVENT_KIND_COUNT - 1 }),
  dt: fc.oneof(fc.constant(0), fc.integer({ min: 0, max: 2000 }), fc.integer({ min: 0, max: 0xffff_ffff })),
  vcpu: fc.integer({ min: 0, max: 0xffff }),
  page: fc.oneof(fc.integer({ min: 0, max: 1 << 20 }), fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 })),
  arg: fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 }),
  pte: fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 }),
});

interface TestEvent {
  readonly kind: number;
  readonly dt: number;
  readonly vcpu: number;
  readonly page: number;
  readonly arg: number;
  readonly pte: number;
}

function buildBatches(events: readonly TestEvent[], capacity: number): GuestBatch[] {
  const out: GuestBatch[] = [];
  const b = new GuestBatchBuilder((batch) => out.push(copyGuestBatch(batch)), capacity);
  let t = 0;
  for (const e of events) {
    t += e.dt;
    b.emit(e.kind, t, e.vcpu, e.page, e.arg, e.pte);
  }
  b.flush();
  return out;
}

/** The guest of the round-trip traces. */
const MEM_PAGES = 1024;
const VCPUS = 4;

/**
 * The event a guest of MEM_PAGES pages and VCPUS vCPUs can hold (what the
 * reader's check accepts, src/trace/chunk-check.ts), made from any field
 * values: a file holds the events migsim writes, and the column codec
 * test above covers any column contents.
 */
function asGuestEvent(e: TestEvent): TestEvent {
  const mod = (v: number, n: number) => ((v % n) + n) % n;
  const vcpu = mod(e.vcpu, VCPUS);
  switch (e.kind) {
    case GuestEventKind.write:
      return { ...e, vcpu, arg: mod(e.arg, 4097), pte: 0 };
    case GuestEventKind.read:
      return { ...e, vcpu, arg: 0, pte: 0 };
    case GuestEventKind.ptWrite: {
      const flags = mod(e.pte, 256);
      return { ...e, vcpu, page: mod(e.page, MEM_PAGES), arg: mod(e.arg, 512), pte: (mod(e.pte >> 8, MEM_PAGES) << 8) | flags };
    }
    case GuestEventKind.cr3Load:
      return { ...e, vcpu, page: mod(e.page, MEM_PAGES), arg: 0, pte: 0 };
    case GuestEventKind.physWrite:
      return { ...e, vcpu: e.vcpu % 2 ? NO_VCPU : vcpu, page: mod(e.page, MEM_PAGES), arg: mod(e.arg, 4097), pte: 0 };
    default:
      return { ...e, vcpu, page: 0, arg: 0, pte: 0 };
  }
}

function header(encoding: (typeof COLUMN_ENCODINGS)[number], chunkEvents: number, durationNs: number): TraceHeader {
  return {
    type: 'header',
    format: TRACE_FORMAT,
    version: TRACE_VERSION,
    program: { name: 'migsim', version: 'test' },
    traceKind: 'workload',
    encoding,
    chunkEvents,
    guest: { type: 'hvm', paging: 'x86-64', memPages: MEM_PAGES, vcpus: VCPUS },
    workload: { name: 'hot-set', seed: 1, durationNs, params: {} },
  };
}

describe('column codec', () => {
  it('every encoding decodes to the values encoded, for any column contents', () => {
    fc.assert(
      fc.property(fc.array(eventArb, { maxLength: 300 }), fc.constantFrom(...COLUMN_ENCODINGS), (events, encoding) => {
        const enc = new ColumnEncoder(encoding);
        for (const batch of buildBatches(events, 512)) {
          GUEST_COLUMN_SPECS.forEach((spec, c) => {
            const values = batch[GUEST_COLUMNS[c]!];
            // Columns after the kinds may be predicted from them (packed-codec.ts).
            const kinds = c === 0 ? undefined : batch.kind;
            const packed = new Packr(traceCodecOptions()).pack(enc.encode(spec, values, batch.count, kinds));
            const out = allocateColumn(spec.type, batch.count);
            decodeColumn(spec, new Unpackr(traceCodecOptions()).unpack(packed), batch.count, out, kinds);
            expect(out.constructor).toBe(values.constructor);
            expect(Array.from(out)).toEqual(Array.from(values));
          });
        }
      }),
      { numRuns: 150 },
    );
  });

  it('msgpackr keeps Uint32Array and Int32Array typed only with moreTypes (why traceCodecOptions sets it)', () => {
    const u32 = new Uint32Array([1, 0xffff_ffff, 70000]);
    const plain = new Unpackr().unpack(new Packr().pack({ d: u32 })) as { d: unknown };
    expect(plain.d).not.toBeInstanceOf(Uint32Array); // silently bytes: the corruption the option prevents
    const typed = new Unpackr(traceCodecOptions()).unpack(new Packr(traceCodecOptions()).pack({ d: u32 })) as { d: Uint32Array };
    expect(typed.d).toBeInstanceOf(Uint32Array);
    expect(Array.from(typed.d)).toEqual([1, 0xffff_ffff, 70000]);
  });
});

describe('trace file round trip', () => {
  it('decoded events equal the written ones, per encoding, for random streams including empty ones', () => {
    let n = 0;
    fc.assert(
      fc.property(fc.array(eventArb.map(asGuestEvent), { maxLength: 400 }), fc.constantFrom(...COLUMN_ENCODINGS), fc.integer({ min: 1, max: 97 }), (events, encoding, cap) => {
        const file = join(dir, `rt-${n++}.mst`);
        const batches = buildBatches(events, cap);
        const w = new TraceWriter(file, header(encoding, cap, batches.at(-1)?.endNs ?? 0));
        for (const b of batches) w.writeGuestBatch(b);
        const written = w.finish();
        const reader = TraceReader.open(file);
        const read: GuestBatch[] = [];
        const footer = reader.forEachChunk((c) => {
          if (c.stream === 'guest') read.push(copyGuestBatch(c.batch));
        });
        expect(footer.digest).toBe(written.digest);
        expect(footer.guestEvents).toBe(events.length);
        expect(read.length).toBe(batches.length);
        read.forEach((r, i) => {
          const b = batches[i]!;
          expect([r.count, r.baseNs, r.endNs]).toEqual([b.count, b.baseNs, b.endNs]);
          for (const col of GUEST_COLUMNS) {
            expect(r[col].constructor).toBe(b[col].constructor);
            expect(Array.from(r[col])).toEqual(Array.from(b[col]));
          }
        });
      }),
      { numRuns: 60 },
    );
  });

  it('a huge chunk (one million events) round-trips in every encoding', () => {
    const count = 1_000_000;
    const batches: GuestBatch[] = [];
    const b = new GuestBatchBuilder((x) => batches.push(copyGuestBatch(x)), count);
    let seed = 12345;
    for (let i = 0; i < count; i++) {
      seed = (Math.imul(seed, 1103515245) + 12345) | 0;
      const e = asGuestEvent({ kind: i % GUEST_EVENT_KIND_COUNT, dt: 3, vcpu: i % 4, page: seed >>> 12, arg: seed & 0xfff, pte: seed });
      b.emit(e.kind, i * 3, e.vcpu, e.page, e.arg, e.pte);
    }
    b.flush();
    for (const encoding of COLUMN_ENCODINGS) {
      const file = join(dir, `huge-${encoding}.mst`);
      const w = new TraceWriter(file, header(encoding, count, batches[0]!.endNs));
      w.writeGuestBatch(batches[0]!);
      w.finish();
      const reader = TraceReader.open(file);
      const c = reader.nextChunk()!;
      expect(c.stream).toBe('guest');
      const got = c.batch as GuestBatch;
      for (const col of GUEST_COLUMNS) expect(Buffer.from(got[col].buffer, got[col].byteOffset, got[col].byteLength).equals(Buffer.from(batches[0]![col].buffer))).toBe(true);
      expect(reader.nextChunk()).toBeUndefined();
    }
  });

  it('apache in chunks of 262,144 events reads back: zstd splits such columns into compressed blocks under 128 KiB, which the reader must not count as whole blocks', () => {
    const file = join(dir, 'apache-big-chunks.mst');
    const rec = record({ workload: 'apache', seed: 1, out: file, durationNs: 3e9, chunkEvents: 262_144 });
    const reader = TraceReader.open(file, { readAhead: 'inline' });
    let events = 0;
    const footer = reader.forEachChunk((c) => (events += c.batch.count));
    expect(footer.guestEvents).toBe(rec.footer.guestEvents);
    expect(events).toBeGreaterThan(262_144);
  });
});
