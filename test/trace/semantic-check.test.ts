// Checks that a trace whose records are well framed, with correct
// checksums and digest, but whose content migsim could not have written is
// one clear TraceError naming the file, the byte offset and the record
// (issue "Results a user can trust", item 2). Each case edits one field of
// a good trace and re-frames it as a writer would.
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { record } from '../../src/api/record.js';
import { GuestEventKind } from '../../src/events/guest-event-kind.js';
import { RunEventKind } from '../../src/events/run-event-kind.js';
import { TraceError } from '../../src/trace/trace-error.js';
import { TraceReader } from '../../src/trace/trace-reader.js';
import { chunkColumns, readRecords, redigest, withColumns, writeRecords } from '../helpers/trace-frames.js';
import { tempDir } from '../helpers/temp-dir.js';
import { recordSmallHotSetRun } from '../helpers/small-trace.js';

const dir = tempDir();
const workload = join(dir, 'apache.mst');
const run = join(dir, 'run.mst');
type Rec = Record<string, unknown>;
let workloadRecs: Rec[];
let runRecs: Rec[];

beforeAll(async () => {
  record({ workload: 'apache', seed: 3, out: workload, durationNs: 50e6, memBytes: 64 << 20, chunkEvents: 4096 });
  workloadRecs = readRecords(workload);
  await recordSmallHotSetRun(run, 'shadow');
  runRecs = readRecords(run);
}, 60_000);

/** Reads `records` written to a file, expecting one TraceError; returns its message. */
function refusal(name: string, records: readonly Rec[]): string {
  const file = join(dir, name);
  writeRecords(file, records);
  try {
    TraceReader.open(file).forEachChunk(() => {});
  } catch (e) {
    expect(e).toBeInstanceOf(TraceError);
    const m = (e as TraceError).message;
    expect(m.startsWith(`${file}: `)).toBe(true);
    expect(m).toMatch(/at byte [\d,]+/);
    expect(m).not.toContain('\n');
    return m;
  }
  throw new Error(`${name} was read without an error`);
}

/** The records with one column value of the first chunk of `stream` holding a `kind` event set to `value`, re-framed and re-digested. */
function editEvent(recs: readonly Rec[], stream: 'guest' | 'run', kind: number, column: number, value: number): Rec[] {
  const out = recs.slice();
  for (let r = 0; r < out.length; r++) {
    const rec = out[r]!;
    if (rec['type'] !== 'chunk' || rec['stream'] !== stream) continue;
    const cols = chunkColumns(rec)!;
    const i = Array.from(cols[0]!).indexOf(kind);
    if (i < 0) continue;
    cols[column]![i] = value;
    out[r] = withColumns(rec, cols);
    return redigest(out);
  }
  throw new Error(`no ${stream} event of kind ${kind}`);
}

const VCPU = 2;
const PAGE = 3;
const ARG = 4;
const PTE = 5;

describe('what the events say is checked, not only that the bytes are the ones written', () => {
  it('the good traces read cleanly, also re-framed and re-digested by the helper (the baseline for the cases below)', () => {
    for (const f of [workload, run]) expect(() => TraceReader.open(f).forEachChunk(() => {})).not.toThrow();
    writeRecords(join(dir, 'same.mst'), redigest(workloadRecs));
    expect(() => TraceReader.open(join(dir, 'same.mst')).forEachChunk(() => {})).not.toThrow();
  });

  it('a guest event on a vCPU the guest does not have, or on no vCPU (0xffff), is refused at its chunk and event', () => {
    expect(refusal('vcpu.mst', editEvent(workloadRecs, 'guest', GuestEventKind.write, VCPU, 2))).toMatch(/write on vCPU 2, but the guest has 2 vCPUs \(chunk \d+ \(guest\), event \d+, at byte/);
    expect(refusal('novcpu.mst', editEvent(workloadRecs, 'guest', GuestEventKind.cr3Load, VCPU, 0xffff))).toContain('cr3_load on vCPU 65535, but the guest has 2 vCPUs');
  });

  it('a page the guest does not have, a table entry past 511 and a PTE naming a frame past memory are refused', () => {
    const memPages = (workloadRecs[0]!['guest'] as { memPages: number }).memPages;
    expect(refusal('pfn.mst', editEvent(workloadRecs, 'guest', GuestEventKind.ptWrite, PAGE, memPages))).toContain(`page-table pfn ${memPages} is outside the guest's ${memPages} pages`);
    expect(refusal('index.mst', editEvent(workloadRecs, 'guest', GuestEventKind.ptWrite, ARG, 512))).toContain('entry index 512, but a table has 0 to 511');
    expect(refusal('frame.mst', editEvent(workloadRecs, 'guest', GuestEventKind.ptWrite, PTE, (memPages << 8) | 1))).toContain(`the present PTE names frame ${memPages}, outside the ${memPages} frames of the guest`);
  });

  it('an unknown event kind is refused, in either stream', () => {
    expect(refusal('kind.mst', editEvent(workloadRecs, 'guest', GuestEventKind.read, 0, 6))).toContain('unknown guest event kind 6 (known: 0 to 5)');
    expect(refusal('runkind.mst', editEvent(runRecs, 'run', RunEventKind.roundStart, 0, 200))).toMatch(/unknown run event kind 200 \(known: 0 to \d+\) \(chunk \d+ \(run\), event \d+/);
  });

  it("run events' round numbers follow each other and their vCPUs are the guest's", () => {
    expect(refusal('round.mst', editEvent(runRecs, 'run', RunEventKind.roundStart, PAGE, 7))).toMatch(/round_start .*: round 7, but 0 rounds have ended, so the round under way is 0/);
    expect(refusal('exitvcpu.mst', editEvent(runRecs, 'run', RunEventKind.shadowFault, VCPU, 5))).toContain('vCPU 5, but the guest has 2 vCPUs');
  });

  it('a constant column whose value a column of its type cannot hold (2^32, NaN, -1 in a u32) is refused, not wrapped', () => {
    const chunkAt = workloadRecs.findIndex((r) => r['type'] === 'chunk');
    for (const v of [2 ** 32, Number.NaN, -1, 1.5]) {
      const recs = workloadRecs.slice();
      const chunk = recs[chunkAt]!;
      const cols = (chunk['cols'] as unknown[]).slice();
      cols[1] = { c: 'k', v };
      recs[chunkAt] = { ...chunk, cols };
      expect(refusal('constant.mst', recs)).toContain(`constant column dtNs holds ${v}, which a u32 column cannot (0 to 4294967295)`);
    }
  });

  it("the footer's counts by kind are compared with the events", () => {
    const footer = workloadRecs.at(-1)!;
    const byKind = (footer['guestEventsByKind'] as number[]).slice();
    byKind[GuestEventKind.read]! += 1;
    byKind[GuestEventKind.write]! -= 1;
    expect(refusal('bykind.mst', [...workloadRecs.slice(0, -1), { ...footer, guestEventsByKind: byKind }])).toMatch(/footer says \d+ write guest events but the file holds \d+ \(footer, at byte/);
  });

  it("header values beyond the model's limits are refused on the header: vcpus 65536, memPages below what events use, chunkEvents 2^40, a workload trace called a run trace", () => {
    const h = workloadRecs[0]!;
    const guest = h['guest'] as Rec;
    expect(refusal('vcpus.mst', [{ ...h, guest: { ...guest, vcpus: 65536 } }, ...workloadRecs.slice(1)])).toContain('bad header field guest: vcpus must be between 1 and 512, got 65536');
    expect(refusal('chunkEvents.mst', [{ ...h, chunkEvents: 2 ** 40 }, ...workloadRecs.slice(1)])).toContain('bad header field chunkEvents: 1099511627776 events a chunk, more than the 16777216 a chunk may hold (header, at byte 13)');
    expect(refusal('kindflip.mst', [{ ...h, traceKind: 'run' }, ...workloadRecs.slice(1)])).toContain("bad header field traceKind: 'run', but the header has no run");
    // Smaller memory is a valid header: the first event past it is refused.
    expect(refusal('mem.mst', [{ ...h, guest: { ...guest, memPages: 64 } }, ...workloadRecs.slice(1)])).toMatch(/outside the guest's 64 pages \(chunk 0 \(guest\), event \d+/);
  });
});
