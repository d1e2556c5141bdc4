// Checks `migsim report RUN.mst...` (issue 7): run traces read in one
// streaming pass each, drawn side by side, with the command that records
// each of them again.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import type { MigrationSummary } from '../../src/api/run-migration.js';
import { runCli } from '../cli/cli-run.js';
import { tempDir } from '../helpers/temp-dir.js';
import { figure, marks } from './svg-marks.js';

const dir = tempDir();
const pml = join(dir, 'pml.mst');
const legacy = join(dir, 'legacy.mst');
const out = join(dir, 'runs.html');
let html = '';
const summaries: MigrationSummary[] = [];

beforeAll(async () => {
  const base = ['apache', '--duration', '2s', '--mem', '256MiB', '--seed', '7', '--json'];
  for (const [file, extra] of [
    [pml, ['--tracker', 'pml']],
    [legacy, ['--tracker', 'shadow', '--policy', 'xen-legacy', '--bandwidth', '10Gbit']],
  ] as const) {
    const r = await runCli('run', ...base, ...extra, '--record', file);
    expect(r.code).toBe(0);
    summaries.push(JSON.parse(r.out));
  }
  const r = await runCli('report', pml, legacy, '-o', out);
  expect(r.code).toBe(0);
  // Named by what differs, not by their paths.
  expect(r.out).toContain('2 runs (pml, xen, 1 Gbit/s; shadow, xen-legacy, 10 Gbit/s), 6 charts');
  html = readFileSync(out, 'utf8');
}, 120_000);

describe('migsim report on run traces', () => {
  it('draws one convergence panel per run trace, with a bar per round sent', () => {
    const m = marks(figure(html, 'convergence'), 'convergence');
    expect(m.groups).toBe(2);
    expect(m.items.length).toBe(summaries.reduce((a, s) => a + s.rounds.length + s.rounds.filter((r) => r.dirtyPages >= 0).length, 0));
  });

  it('labels each run by what it is, not by its file: the columns by what differs, the path only in the header table', () => {
    expect(html).toMatch(/<thead><tr><th>by tracker, policy, bandwidth<\/th><th>pml, xen, 1 Gbit\/s<\/th><th>shadow, xen-legacy, 10 Gbit\/s<\/th><\/tr><\/thead>/);
    expect(html).toContain(`<th scope="row">run trace</th><td>${pml}</td><td>${legacy}</td>`);
  });

  it('takes each summary from its trace footer: the table shows each run’s policy, stop rule and downtime', () => {
    expect(html).toContain(`<td>${summaries[0]!.stopReason}</td>`);
    expect(html).toContain(`<td>${summaries[1]!.stopReason}</td>`);
    expect(html).toMatch(/<td>xen-legacy, link 10,000 Mbit\/s/);
  });

  it('gives the command that records each run trace again, and it does: byte for byte', async () => {
    const line = [...html.matchAll(/<pre>(migsim run [^<]*)<\/pre>/g)].map((m) => m[1]!).find((l) => l.includes('--policy xen-legacy'))!;
    expect(line).toMatch(/^migsim run apache --tracker shadow --seed 7 --duration 2s --mem 256MiB --vcpus 2 --guest hvm --paging x86-64 (--set \S+ )*--policy xen-legacy --start \S+ --bandwidth 10Gbit --record \S+legacy\.mst$/);
    const again = join(dir, 'again.mst');
    const args = line.split(' ').slice(1);
    args[args.length - 1] = again;
    const r = await runCli(...args);
    expect(r.code).toBe(0);
    expect(readFileSync(again).equals(readFileSync(legacy))).toBe(true);
  }, 60_000);

  it('refuses a workload trace with a message that says how to make a run trace', async () => {
    const wl = join(dir, 'wl.mst');
    expect((await runCli('record', 'hot-set', '-o', wl, '--duration', '10ms', '--mem', '64MiB', '--seed', '1')).code).toBe(0);
    const r = await runCli('report', wl, '-o', join(dir, 'wl.html'));
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/wl\.mst: is a workload trace .*not a run trace.*migsim run hot-set --tracker pml --record/);
  });
});
