// Checks `migsim export RUN.mst --perfetto` (issues 7 and 20): the Chrome
// trace event format that ui.perfetto.dev and chrome://tracing open,
// validated by a schema of the format (chrome-trace-schema.ts: Perfetto's
// trace processor cannot be installed here), with the migration's rounds
// and downtime (its parts nested) as slices, each vCPU on its own track,
// the exit-slice budget spent from the migration's start, and exits beyond
// it still counted. The committed export under test/fixtures/perfetto is
// checked the same way, so the file a person opens is a valid one.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import type { MigrationSummary } from '../../src/api/run-migration.js';
import { runCli } from '../cli/cli-run.js';
import { tempDir } from '../helpers/temp-dir.js';
import { chromeTraceSchema, traceProblems } from './chrome-trace-schema.js';

interface TraceEvent {
  name: string;
  ph: string;
  pid: number;
  tid?: number;
  ts?: number;
  dur?: number;
  args?: Record<string, unknown>;
}

const dir = tempDir();
const run = join(dir, 'pml.mst');
let summary: MigrationSummary;
let vcpus = 0;

function exported(file: string): { traceEvents: TraceEvent[]; otherData: Record<string, unknown> } {
  return JSON.parse(readFileSync(file, 'utf8'));
}

beforeAll(async () => {
  const r = await runCli('run', 'apache', '--tracker', 'pml', '--duration', '2s', '--mem', '256MiB', '--seed', '1', '--record', run, '--json');
  expect(r.code).toBe(0);
  const j = JSON.parse(r.out);
  summary = j;
  vcpus = j.guest.vcpus;
}, 60_000);

describe('migsim export --perfetto', () => {
  it('writes valid JSON in the trace event format: every event has a name, a phase and a pid; slices and counters have times in microseconds', async () => {
    const out = join(dir, 'pml.json');
    const r = await runCli('export', run, '--perfetto', '-o', out);
    expect(r.code).toBe(0);
    expect(r.out).toContain('ui.perfetto.dev');
    const j = exported(out);
    expect(Array.isArray(j.traceEvents)).toBe(true);
    expect(j.traceEvents.length).toBeGreaterThan(0);
    for (const e of j.traceEvents) {
      expect(typeof e.name).toBe('string');
      expect(['X', 'C', 'M', 'i']).toContain(e.ph);
      expect(e.pid).toBe(1);
      if (e.ph === 'X') {
        expect(Number.isFinite(e.ts) && e.ts! >= 0 && Number.isFinite(e.dur) && e.dur! >= 0, JSON.stringify(e)).toBe(true);
        expect(typeof e.tid).toBe('number');
      }
      if (e.ph === 'C') {
        expect(Number.isFinite(e.ts)).toBe(true);
        for (const v of Object.values(e.args ?? {})) expect(typeof v).toBe('number');
      }
    }
  });

  it('has one slice per round, in order, with the pages each round sent', () => {
    const j = exported(join(dir, 'pml.json'));
    const rounds = j.traceEvents.filter((e) => e.ph === 'X' && /^round \d+$/.test(e.name));
    expect(rounds.map((e) => e.args!['round'])).toEqual(summary.rounds.map((r) => r.round));
    expect(rounds.map((e) => e.args!['pagesSent'])).toEqual(summary.rounds.map((r) => r.pagesSent));
    expect(new Set(rounds.map((e) => e.tid)).size).toBe(1);
  });

  it('has one slice from suspend to resume as long as the summary’s downtime', () => {
    const j = exported(join(dir, 'pml.json'));
    const down = j.traceEvents.filter((e) => e.ph === 'X' && e.name.startsWith('downtime'));
    expect(down).toHaveLength(1);
    expect(Math.round(down[0]!.dur! * 1000)).toBe(summary.downtimeNs);
    expect(summary.downtimeNs).toBeGreaterThan(0);
    const lastRound = j.traceEvents.filter((e) => e.name === `round ${summary.rounds.length - 1}`)[0]!;
    // The stop-and-copy round ends at the resume.
    expect(Math.abs(down[0]!.ts! + down[0]!.dur! - (lastRound.ts! + lastRound.dur!))).toBeLessThan(1);
  });

  it('puts each vCPU on its own named track, and slices on every track nest (no partial overlap)', () => {
    const j = exported(join(dir, 'pml.json'));
    const names = j.traceEvents.filter((e) => e.ph === 'M' && e.name === 'thread_name').map((e) => e.args!['name']);
    for (let v = 0; v < vcpus; v++) expect(names).toContain(`vCPU ${v}`);
    const byTid = new Map<number, TraceEvent[]>();
    for (const e of j.traceEvents) if (e.ph === 'X') byTid.set(e.tid!, [...(byTid.get(e.tid!) ?? []), e]);
    const eps = 1e-6;
    for (const [tid, slices] of byTid) {
      slices.sort((a, b) => a.ts! - b.ts! || b.dur! - a.dur!);
      const open: number[] = [];
      for (const s of slices) {
        while (open.length && open[open.length - 1]! <= s.ts! + eps) open.pop();
        const parentEnd = open[open.length - 1];
        expect(parentEnd === undefined || s.ts! + s.dur! <= parentEnd + eps, `track ${tid}: ${s.name} at ${s.ts} overlaps its neighbour`).toBe(true);
        open.push(s.ts! + s.dur!);
      }
    }
  });

  it('caps exit slices per vCPU, counts every exit in the per-vCPU counters, and says so in a metadata event', async () => {
    const out = join(dir, 'capped.json');
    const r = await runCli('export', run, '--perfetto', '-o', out, '--max-exit-slices', '5', '--json');
    expect(r.code).toBe(0);
    const res = JSON.parse(r.out);
    const j = exported(out);
    const exits = Object.entries(summary.exits).filter(([k]) => !['logdirty_enable', 'peek', 'clean', 'final', 'off'].includes(k)).reduce((a, [, e]) => a + e.count, 0);
    expect(res.exits).toBe(exits);
    expect(res.exitSlices).toBeLessThanOrEqual(5 * vcpus);
    const vcpuTids = new Set(j.traceEvents.filter((e) => e.ph === 'M' && e.name === 'thread_name' && String(e.args!['name']).startsWith('vCPU')).map((e) => e.tid));
    const exitSlices = j.traceEvents.filter((e) => e.ph === 'X' && vcpuTids.has(e.tid) && !e.name.startsWith('paused'));
    expect(exitSlices).toHaveLength(res.exitSlices);
    const counted = j.traceEvents.filter((e) => e.ph === 'C' && /^vCPU \d+ exits/.test(e.name)).reduce((a, e) => a + Object.values(e.args!).reduce((b: number, v) => b + (v as number), 0), 0);
    expect(counted).toBe(exits);
    const meta = j.traceEvents.find((e) => e.ph === 'M' && e.name === 'migsim_export')!;
    expect(meta.args!['maxExitSlicesPerVcpu']).toBe(5);
    expect(String(meta.args!['exitsNote'])).toContain("first 5 exits from the migration's start (1 s) on are slices");
    expect(j.otherData['exitSlices']).toBe(res.exitSlices);
  });

  it('passes the trace event format schema, and its slices nest on named threads', () => {
    const j = chromeTraceSchema.parse(exported(join(dir, 'pml.json')));
    expect(traceProblems(j.traceEvents)).toEqual([]);
  });

  it('nests the downtime parts in the downtime slice, in the order they run, ending at the resume', () => {
    const j = exported(join(dir, 'pml.json'));
    const down = j.traceEvents.find((e) => e.ph === 'X' && e.name.startsWith('downtime'))!;
    const partNames = ['suspend', 'final clean', 'final pages', 'canonicalisation', 'vCPU/device state', 'resume'];
    const parts = j.traceEvents.filter((e) => e.ph === 'X' && e.tid === down.tid && partNames.includes(e.name));
    const d = summary.downtime;
    const expected = [d.suspendNs, d.finalCleanNs, d.finalPagesNs, d.canonicaliseNs, d.stateNs, d.resumeNs].filter((ns) => ns > 0);
    expect(parts.map((p) => Math.round(p.dur! * 1000))).toEqual(expected);
    expect(parts[0]!.ts).toBeCloseTo(down.ts!, 6);
    const last = parts[parts.length - 1]!;
    expect(last.ts! + last.dur!).toBeCloseTo(down.ts! + down.dur!, 3);
  });

  it('spends the exit slices on the migration: a shadow guest that takes exits before the start gets slices only from the start on', async () => {
    const shadow = join(dir, 'shadow.mst');
    expect((await runCli('run', 'apache', '--tracker', 'shadow', '--duration', '300ms', '--mem', '64MiB', '--seed', '1', '--record', shadow)).code).toBe(0);
    const out = join(dir, 'shadow.json');
    const r = await runCli('export', shadow, '--perfetto', '-o', out, '--max-exit-slices', '200', '--json');
    expect(r.code).toBe(0);
    const j = chromeTraceSchema.parse(exported(out));
    const startUs = Number((j.otherData['exitSlicesFromNs'] as number) / 1000);
    expect(startUs).toBe(150_000); // the default start: half of 300 ms of guest events
    const vcpuTids = new Set(j.traceEvents.filter((e) => e.ph === 'M' && e.name === 'thread_name' && String(e.args['name']).startsWith('vCPU')).map((e) => (e as { tid: number }).tid));
    const exitSlices = j.traceEvents.filter((e) => e.ph === 'X' && vcpuTids.has(e.tid) && !e.name.startsWith('paused'));
    // The rule is exercised: the counters saw exits before the start...
    const before = j.traceEvents.filter((e) => e.ph === 'C' && /^vCPU \d+ exits/.test(e.name) && e.ts < startUs).reduce((a, e) => a + Object.values(e.args as Record<string, number>).reduce((b, v) => b + v, 0), 0);
    expect(before).toBeGreaterThan(0);
    // ...and no slice went to them; the budget went to the migration, in full.
    expect(exitSlices.length).toBe(200 * vcpuTids.size);
    for (const e of exitSlices) expect((e as { ts: number }).ts).toBeGreaterThanOrEqual(startUs);
  });

  it('the committed example export (test/fixtures/perfetto) is valid and shows the migration’s exits as slices inside the migration', () => {
    const file = join(import.meta.dirname, '..', 'fixtures', 'perfetto', 'hot-set-pml.perfetto.json');
    const j = chromeTraceSchema.parse(JSON.parse(readFileSync(file, 'utf8')));
    expect(traceProblems(j.traceEvents)).toEqual([]);
    const phase = (name: string) => j.traceEvents.find((e) => e.ph === 'X' && e.name.startsWith(name)) as { ts: number; dur: number } | undefined;
    const live = phase('live pre-copy')!;
    const down = phase('downtime')!;
    const vcpuTids = new Set(j.traceEvents.filter((e) => e.ph === 'M' && e.name === 'thread_name' && String(e.args['name']).startsWith('vCPU')).map((e) => (e as { tid: number }).tid));
    const exits = j.traceEvents.filter((e) => e.ph === 'X' && vcpuTids.has(e.tid) && !e.name.startsWith('paused')) as { ts: number }[];
    const inside = exits.filter((e) => e.ts >= live.ts && e.ts <= down.ts + down.dur);
    expect(inside.length).toBeGreaterThan(0);
    expect(j.traceEvents.filter((e) => e.ph === 'X' && /^round \d+$/.test(e.name)).length).toBeGreaterThan(1);
  });

  it('refuses a workload trace with a message that says how to make a run trace', async () => {
    const wl = join(dir, 'wl.mst');
    expect((await runCli('record', 'hot-set', '-o', wl, '--duration', '10ms', '--mem', '64MiB', '--seed', '1')).code).toBe(0);
    const r = await runCli('export', wl, '--perfetto', '-o', join(dir, 'wl.json'));
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/not a run trace.*migsim run hot-set --tracker pml --record/);
  });
});
