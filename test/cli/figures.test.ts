// One definition per figure, in run, compare, the report and JSON (issue
// "Results a user can trust", item 5): the bytes by phase add up to the
// bytes sent under every policy, and an incomplete run has none in a
// downtime that never happened; dirty-sync-count counts every CLEAN and
// FINAL (and QEMU's setup sync) under every policy; the query-migrate
// figures are in each output, in the units they are named with; the live
// phase's figures stand beside the whole run's, each labelled.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { tempDir } from '../helpers/temp-dir.js';
import { runCli } from './cli-run.js';

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

const APACHE = ['apache', '--duration', '1s', '--mem', '128MiB', '--seed', '1', '--start', '100ms'];
/** Post-copy over a guest that writes fast enough to fault on pages not yet received. */
const POSTCOPY = ['hot-set', '--duration', '1s', '--mem', '64MiB', '--seed', '1', '--start', '200ms', '--set', 'rate=200000', '--policy', 'postcopy'];
/** A zero page on QEMU's main stream: its 8-byte header and a byte of fill (ram.c save_zero_page); Xen counts none zero. */
const ZERO_PAGE_WIRE_BYTES = 8 + 1;

async function runJson(...args: string[]): Promise<Json> {
  const r = await runCli('run', ...args, '--json');
  // 0 completed, 1 failed, 3 incomplete: a result to read; never bad input or a bug.
  expect([0, 1, 3], r.err).toContain(r.code);
  return JSON.parse(r.out) as Json;
}

const count = (j: Json, kind: string) => (j.exits[kind]?.count ?? 0) as number;

describe('run --json: each figure as defined', () => {
  const cases: [string, string[]][] = [
    ['xen', [...APACHE, '--tracker', 'hap']],
    ['xen-legacy', [...APACHE, '--tracker', 'shadow', '--policy', 'xen-legacy']],
    ['qemu', [...APACHE, '--tracker', 'pml', '--policy', 'qemu']],
    ['remus', [...APACHE, '--tracker', 'hap', '--policy', 'remus']],
    ['checkpoint', [...APACHE, '--tracker', 'hap', '--policy', 'checkpoint']],
    ['postcopy', [...POSTCOPY, '--tracker', 'hap']],
    ['incomplete', ['hot-set', '--duration', '200ms', '--mem', '64MiB', '--seed', '1', '--tracker', 'hap', '--after-end', 'stop']],
  ];
  it.each(cases)('%s: bytes by phase add up, dirty-sync-count counts the syncs, pages and bytes split as named', async (what, args) => {
    const j = await runJson(...args);
    expect(j.precopyBytes + j.downtimeBytes + (j.postcopyBytes ?? 0) + (j.checkpointBytes ?? 0)).toBe(j.bytesSent);
    if (what === 'incomplete') {
      expect(j.outcome).toBe('incomplete');
      expect(j.downtimeBytes).toBe(0);
      expect(j.precopyBytes).toBe(j.bytesSent);
    } else expect(j.downtimeBytes).toBeGreaterThan(0);
    // Each CLEAN and FINAL is a bitmap sync; QEMU's pre-copy and post-copy also sync once at setup (ram_init_bitmaps).
    expect(j.dirtySyncCount).toBe(count(j, 'clean') + count(j, 'final') + (j.policy === 'qemu' || j.policy === 'postcopy' ? 1 : 0));
    if (what === 'checkpoint') expect(j.dirtySyncCount).toBe(0);
    if (what === 'remus') expect(count(j, 'final')).toBe(1 + j.epochs.length);
    expect(j.normalPages + j.zeroPagesSent).toBe(j.pagesSent);
    expect(j.normalBytes).toBe(j.normalPages * 4096);
    expect(j.zeroBytes).toBe(j.zeroPagesSent * ZERO_PAGE_WIRE_BYTES);
    expect(j.throughputBitsPerSec).toBe(Math.round((j.bytesSent * 8e9) / j.totalNs));
    expect(j.pagesPerSec).toBe(Math.round((j.pagesSent * 1e9) / j.totalNs));
    for (const r of j.rounds) expect(r.remainingBytes).toBe(Math.max(0, r.dirtyPages) * 4096);
  });
});

describe("run's text gives the same figures, each phase named", () => {
  it('a completed migration: throughput, pages and bytes by kind and phase, syncs, live phase beside whole run, remaining and expected downtime per round', async () => {
    const r = await runCli('run', ...APACHE, '--tracker', 'pml', '--policy', 'qemu');
    const j = await runJson(...APACHE, '--tracker', 'pml', '--policy', 'qemu');
    expect(r.out).toMatch(/throughput +[\d,.]+ Mbit\/s, [\d,]+ pages\/s/);
    expect(r.out).toMatch(new RegExp(`transferred +${j.pagesSent.toLocaleString('en-US')} pages, .*: ${j.normalPages.toLocaleString('en-US')} normal \\(.*of contents\\), ${j.zeroPagesSent.toLocaleString('en-US')} zero`));
    expect(r.out).toMatch(/by phase +pre-copy .*, stop-and-copy /);
    expect(r.out).toContain(`dirty-sync-count ${j.dirtySyncCount}`);
    expect(r.out).toMatch(/slowdown [\d.]+% \(live phase\), [\d.]+% \(whole run\)/);
    expect(r.out).toMatch(/vCPU stall +\S+ \S+ \(live phase\), \S+ \S+ \(whole run\)/);
    expect(r.out).toMatch(/kind +live phase +vCPU time +whole run +vCPU time/);
    expect(r.out).toMatch(/round +start +end +sent +zero +bytes +remaining +expected downtime/);
  });

  it('post-copy shows its faults on pages not yet received and the time waited for them', async () => {
    const j = await runJson(...POSTCOPY, '--tracker', 'hap');
    expect(j.postcopyFaults).toBeGreaterThan(0);
    const r = await runCli('run', ...POSTCOPY, '--tracker', 'hap');
    expect(r.out).toContain(`post-copy    ${j.postcopyFaults.toLocaleString('en-US')} faults on pages not yet received`);
    expect(r.out).toMatch(/by phase +pre-copy .*, stop-and-copy .*, post-copy /);
  });

  it('the tracker counts are a block of short lines, not one line of hundreds of characters', async () => {
    const r = await runCli('run', ...APACHE, '--tracker', 'shadow');
    for (const line of r.out.split('\n')) expect(line.length, line).toBeLessThan(200);
    expect(r.out).toMatch(/\n {4}shadowPoolPages +[\d,]+ +\w+ +[\d,]+/);
  });

  it("a shadow run prints its pool: libxl's default paging pool for the guest less the P2M's tables, or the cost model's", async () => {
    const j = await runJson(...APACHE, '--tracker', 'shadow');
    // 128 MiB: libxl__get_required_paging_memory gives 4 * (256 V + 2 * 128) KiB; the P2M of 2 MiB leaves is an L2, an L3 and an L4.
    const pages = (4 * (256 * j.guest.vcpus + 2 * 128)) / 4 - 3;
    expect(j.shadowPool).toEqual({ pages, libxlDefaultPages: pages, p2mPages: 3, fromCostModel: false });
    expect(j.trackerStats.shadowPoolPages).toBe(pages);
    const r = await runCli('run', ...APACHE, '--tracker', 'shadow');
    expect(r.out).toContain(`  shadow pool  ${pages.toLocaleString('en-US')} pages (`);
    expect(r.out).toContain(`: libxl's default paging pool for 128.00 MiB and ${j.guest.vcpus} vCPUs, less the P2M's 3 table pages`);
    const hap = await runJson(...APACHE, '--tracker', 'hap');
    expect(hap.shadowPool).toBeUndefined();
  });
});

describe('compare', () => {
  it('keeps its first twelve figures where they were, adds the query-migrate ones, and ranks only where lower is better', async () => {
    const r = await runCli('compare', ...POSTCOPY, '--trackers', 'shadow,hap,pml', '--json');
    expect(r.code, r.err).toBe(0);
    const j = JSON.parse(r.out) as Json;
    const names = j.figures.map((f: Json) => f.name);
    expect(names.slice(0, 12)).toEqual(['downtime', 'total time', 'rounds', 'pages sent', 'bytes sent', 'final pages', 'guest slowdown (live phase)', 'guest slowdown (whole run)', 'vCPU stall (live phase)', 'exits and faults (live phase)', 'tracker memory', 'lost pages']);
    const unranked = ['rounds', 'throughput', 'pages per second', 'normal pages', 'normal bytes', 'zero pages', 'zero bytes', 'pre-copy bytes', 'stop-and-copy bytes', 'post-copy bytes', 'dirty rate (live phase)', 'dirty-sync-count'];
    for (const n of [...unranked, 'vCPU stall (whole run)', 'exits and faults (whole run)', 'post-copy faults', 'post-copy fault wait']) expect(names).toContain(n);
    for (const f of j.figures) if (unranked.includes(f.name)) expect(f.best, f.name).toBe(-1);
    // Each figure is the run's field of that name.
    const fig = (n: string) => j.figures.find((f: Json) => f.name === n).values;
    expect(fig('throughput')).toEqual(j.runs.map((s: Json) => s.throughputBitsPerSec));
    expect(fig('post-copy faults')).toEqual(j.runs.map((s: Json) => s.postcopyFaults));
    expect(fig('dirty-sync-count')).toEqual(j.runs.map((s: Json) => s.dirtySyncCount));
  });

  it('writes each row of times or bytes in one unit', async () => {
    const r = await runCli('compare', ...APACHE, '--trackers', 'shadow,hap,pml');
    const rows = r.out.split('\n').filter((l) => /^│ (downtime|total time|vCPU stall|bytes sent|tracker memory)/.test(l));
    expect(rows.length).toBeGreaterThanOrEqual(5);
    for (const row of rows) {
      const units = row.split('│').slice(2, -1).map((c) => / (ns|us|ms|s|B|KiB|MiB|GiB)( \*)?\s*$/.exec(c)?.[1]);
      expect(new Set(units).size, row).toBe(1);
    }
  });
});

describe('the report', () => {
  it('has the same figures in its summary and each run rounds with remaining pages and expected downtime', async () => {
    const dir = tempDir('migsim-figures-');
    const out = join(dir, 'r.html');
    const r = await runCli('report', '--compare', ...POSTCOPY, '--trackers', 'hap,pml', '-o', out);
    expect(r.code, r.err).toBe(0);
    const html = readFileSync(out, 'utf8');
    for (const row of ['normal pages (contents)', 'zero pages (headers)', 'bytes pre-copy', 'bytes in downtime (stop-and-copy)', 'bytes post-copy', 'throughput', 'dirty-sync-count', 'vCPU stall (live phase)', 'vCPU stall (whole run)', 'exits and faults (live phase)', 'exits and faults (whole run)', 'post-copy faults', 'post-copy fault wait']) {
      expect(html).toContain(`<th scope="row">${row}</th>`);
    }
    expect(html).toMatch(/<td>[\d,.]+ Mbit\/s, [\d,]+ pages\/s<\/td>/);
    expect(html).toContain('<th>remaining (pages)</th><th>expected downtime</th>');
    // Never a best mark on a row where lower is not better.
    for (const row of ['throughput', 'dirty-sync-count', 'dirty rate (live phase, pages/s)', 'rounds']) {
      const tr = new RegExp(`<th scope="row">${row.replace(/[()]/g, '\\$&')}</th>(.*?)</tr>`).exec(html)?.[1] ?? '';
      expect(tr, row).not.toContain(' *<');
    }
  });
});
