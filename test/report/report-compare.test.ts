// Checks `migsim report --compare` (issues 7 and 20): a short default-like
// comparison (apache on HVM, shadow vs hap vs pml, xen policy, 2 s of guest
// time on 256 MiB) drawn as one HTML file whose charts carry one mark per
// round, per tracker and per downtime part, the rounds in time (a Gantt),
// beside the summary table, the run header and the command line that
// reproduces it; and a tracker listed twice in a comparison keeps two
// timelines of its own.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { guestSource } from '../../src/api/guest-source.js';
import type { MigrationSummary } from '../../src/api/run-migration.js';
import { compareRunReports } from '../../src/report/report-data.js';
import { DOWNTIME_PARTS } from '../../src/report/report-charts.js';
import { REPORT_CHARTS } from '../../src/report/report-html.js';
import { PROGRAM_VERSION } from '../../src/version.js';
import { runCli } from '../cli/cli-run.js';
import { tempDir } from '../helpers/temp-dir.js';
import { figure, labelField, marks } from './svg-marks.js';

const dir = tempDir();
const out = join(dir, 'report.html');
const SHORT = ['--duration', '2s', '--mem', '256MiB', '--seed', '1'];
const TRACKERS = ['shadow', 'hap', 'pml'];
/** Run events a vCPU takes (exits and faults); the rest of `exits` are domain-wide operations. */
const DOMAIN_OPS = new Set(['logdirty_enable', 'peek', 'clean', 'final', 'off']);

let html = '';
let runs: (MigrationSummary & { tracker: string })[] = [];
let reportJson: { runs: { label: string; downtimeNs: number }[]; charts: string[] };

beforeAll(async () => {
  const r = await runCli('report', '--compare', ...SHORT, '-o', out, '--json');
  expect(r.err).toBe('');
  expect(r.code).toBe(0);
  reportJson = JSON.parse(r.out);
  html = readFileSync(out, 'utf8');
  const c = await runCli('compare', ...SHORT, '--json');
  expect(c.code).toBe(0);
  runs = JSON.parse(c.out).runs;
}, 120_000);

describe('migsim report --compare', () => {
  it('bare --compare runs the default comparison: apache, shadow vs hap vs pml, xen policy, the same numbers as migsim compare', () => {
    expect(runs.map((s) => s.tracker)).toEqual(TRACKERS);
    expect(reportJson.runs.map((r) => r.label)).toEqual(TRACKERS);
    expect(reportJson.runs.map((r) => r.downtimeNs)).toEqual(runs.map((s) => s.downtimeNs));
    expect(html).toContain('<h1>shadow vs hap vs pml (apache, xen policy, 1 Gbit/s)</h1>');
  });

  it('has one figure per picture, in order', () => {
    const ids = [...html.matchAll(/<figure data-chart="([a-z]+)"/g)].map((m) => m[1]);
    expect(ids).toEqual(['overview', 'rounds', 'convergence', 'downtime', 'throughput', 'exits']);
    expect(reportJson.charts).toEqual(REPORT_CHARTS.map((c) => c.id));
    for (const id of ids) expect(figure(html, id!)).toContain('<svg');
  });

  it('the convergence chart has a panel per tracker headed by its stop rule, and a bar per round sent and per round whose CLEAN reported dirty pages', () => {
    const svg = figure(html, 'convergence');
    const m = marks(svg, 'convergence');
    expect(m.groups).toBe(TRACKERS.length);
    const expected = runs.reduce((a, s) => a + s.rounds.length + s.rounds.filter((r) => r.dirtyPages >= 0).length, 0);
    expect(m.items).toHaveLength(expected);
    for (const s of runs) expect(svg).toContain(`stop: ${s.stopReason.split(' ').slice(0, 3).join(' ')}`);
    const sent = m.items.filter((i) => labelField(i.label, 'series') === 'pages sent').map((i) => Number(labelField(i.label, 'pages')));
    expect(sent).toEqual(runs.flatMap((s) => s.rounds.map((r) => r.pagesSent)));
  });

  it('the convergence chart keeps every round readable: the full first pass is cut to the later rounds\' scale and labelled with its value', () => {
    const svg = figure(html, 'convergence');
    runs.forEach((s, i) => {
      const bars = marks(svg, `convergence_${i}`).items;
      const first = bars.find((b) => labelField(b.label, 'round') === '0' && labelField(b.label, 'series') === 'pages sent')!;
      const later = Math.max(...s.rounds.slice(1).flatMap((r) => [r.pagesSent, r.dirtyPages]), 50);
      // The first pass sends all memory (65,536 pages of 256 MiB): far above the later rounds, so it is cut...
      expect(Number(labelField(first.label, 'pages'))).toBe(65536);
      expect(Number(labelField(first.label, 'pages (4 KiB), drawn'))).toBeLessThan(2 * later);
      // ...and says so in its label.
      expect(marks(svg, `convergence_labels_${i}`).items.map((t) => labelField(t.label, 'label'))).toContain('65.5k ↑');
    });
  });

  it('the downtime chart stacks one bar segment per non-zero part, labelled with each tracker’s total', () => {
    const svg = figure(html, 'downtime');
    const parts = runs.reduce((a, s) => a + DOWNTIME_PARTS.filter((p) => s.downtime[p.key] > 0).length, 0);
    expect(marks(svg, 'downtime').items).toHaveLength(parts);
    const totals = marks(svg, 'downtime_total').items;
    expect(totals).toHaveLength(TRACKERS.length);
    for (const s of runs) expect(svg).toContain(`${(s.downtimeNs / 1e6).toFixed(2)} ms</text>`);
  });

  it('the throughput chart has a Mbit/s, a pages/s, a dirty-rate and a cumulative-traffic line per tracker, and a suspend and a resume rule per completed migration', () => {
    const svg = figure(html, 'throughput');
    for (const name of ['throughput_mbit', 'throughput_pages', 'dirty_rate', 'traffic']) expect(marks(svg, name).items.filter((i) => i.tag === 'path'), name).toHaveLength(TRACKERS.length);
    const completed = runs.filter((s) => s.outcome === 'completed').length;
    expect(marks(svg, 'suspend_rule').items).toHaveLength(completed);
    expect(marks(svg, 'resume_rule').items).toHaveLength(completed);
  });

  it('the rounds chart draws, per tracker, a bar per round with its pages, a tick per log-dirty operation, and the downtime split into its non-zero parts', () => {
    const svg = figure(html, 'rounds');
    runs.forEach((s, i) => {
      // The run's own Gantt (`_i`); a zoomed one (`_iz`) may follow it.
      const bars = marks(svg, `round_bars_${i}`).items;
      expect(bars.map((b) => Number(labelField(b.label, 'pages sent')!.replace(/,/g, '')))).toEqual(s.rounds.map((r) => r.pagesSent));
      const ops = ['logdirty_enable', 'peek', 'clean', 'final'].reduce((a, k) => a + (s.exits[k]?.count ?? 0), 0);
      expect(marks(svg, `sync_ticks_${i}`).items).toHaveLength(ops);
      expect(marks(svg, `downtime_parts_${i}`).items).toHaveLength(DOWNTIME_PARTS.filter((p) => s.downtime[p.key] > 0).length);
    });
  });

  it('the exits chart has a row per tracker that counts every exit of the live phase (the window holds it, and less than the whole run), and a slowdown line per tracker', () => {
    const svg = figure(html, 'exits');
    const m = marks(svg, 'exits');
    expect(m.groups).toBe(TRACKERS.length);
    const vcpuExits = (t: Record<string, { count: number }>) => Object.entries(t).filter(([k]) => !DOMAIN_OPS.has(k)).reduce((a, [, e]) => a + e.count, 0);
    for (const s of runs) {
      const drawn = m.items.filter((i) => labelField(i.label, 'run') === s.tracker).reduce((a, i) => a + Number(labelField(i.label, 'exits')), 0);
      expect(drawn, s.tracker).toBeGreaterThanOrEqual(vcpuExits(s.migrationExits));
      expect(drawn, s.tracker).toBeLessThanOrEqual(vcpuExits(s.exits));
    }
    // Shadow takes exits from its guest's start (pt_write emulation): the window leaves those out.
    const shadow = runs.find((s) => s.tracker === 'shadow')!;
    expect(m.items.filter((i) => labelField(i.label, 'run') === 'shadow').reduce((a, i) => a + Number(labelField(i.label, 'exits')), 0)).toBeLessThan(vcpuExits(shadow.exits));
    expect(marks(svg, 'slowdown').items.filter((i) => i.tag === 'path')).toHaveLength(TRACKERS.length);
  });

  it('shows the summary table, the run header (workload, parameters, seed, program version) and the command line that reproduces it', () => {
    expect(html).toContain('<section id="summary">');
    for (const s of runs) expect(html).toContain(`<td>${s.stopReason}</td>`);
    expect(html).toMatch(/<th scope="row">seed<\/th>(<td>1<\/td>){3}/);
    expect(html).toMatch(/<th scope="row">workload<\/th>(<td>apache<\/td>){3}/);
    expect(html).toContain(`<td>migsim ${PROGRAM_VERSION}</td>`);
    expect(html).toMatch(/<pre>migsim report --compare apache --seed 1 --duration 2s --mem 256MiB --vcpus 2 --guest hvm --paging x86-64 (--set \S+ )*--trackers shadow,hap,pml --policy xen --start \S+ -o \S+report\.html<\/pre>/);
  });

  it('the command line in the report reproduces the same report', async () => {
    const line = /<pre>(migsim report --compare [^<]*)<\/pre>/.exec(html)![1]!;
    const again = join(dir, 'again.html');
    const args = line.split(' ').slice(1);
    args[args.indexOf('-o') + 1] = again;
    const r = await runCli(...args);
    expect(r.code).toBe(0);
    // The same runs and charts; only the output file name in the reproduce line differs.
    expect(readFileSync(again, 'utf8').replaceAll(again, out)).toBe(html);
  }, 60_000);

  it('is self-contained: inline SVG and CSS, no script, no external resource', () => {
    expect(html).not.toMatch(/<script/i);
    expect(html).not.toMatch(/<link\b/i);
    expect(html).not.toMatch(/\b(src|href)\s*=/i);
    // url(#...) names a clip path of the same figure; nothing else may be referenced.
    expect(html.replace(/url\(#[a-z]+-clip\d+\)/g, '')).not.toMatch(/url\(|@import/i);
    expect(html).toContain('<style>');
  });

  it('reading run traces and --compare are exclusive, and one of them is needed', async () => {
    const none = await runCli('report', '-o', join(dir, 'x.html'));
    expect(none.code).toBe(2);
    expect(none.err).toContain('nothing to report');
    const both = await runCli('report', 'a.mst', '--compare', '-o', join(dir, 'x.html'));
    expect(both.code).toBe(2);
  });
});

describe('compareRunReports', () => {
  it('a tracker listed twice gets two timelines, each the one it gets alone', () => {
    const source = guestSource('hot-set', { seed: 2, durationNs: 300e6, memBytes: 64 * 1024 * 1024 });
    const opts = { migration: { startNs: 50e6 } };
    const [alone] = compareRunReports(source, ['hap'], opts);
    const twice = compareRunReports(source, ['hap', 'hap'], opts);
    expect(twice).toHaveLength(2);
    for (const r of twice) expect(r.timeline).toEqual(alone!.timeline);
  });
});
