// The rtdirty importer against real captures: the known-pattern writer's
// dirty counts come through interval by interval, the python boot runs
// under every tracker without losing a page, and inspect reports what the
// capture was. Synthetic captures check processes (fork, exec, exit),
// shared frames, the instruction clock and gzip.
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { guestSource } from '../../src/api/guest-source.js';
import { runMigration } from '../../src/api/run-migration.js';
import { GuestVpnMap, vpnMapGeometry } from '../../src/import/guest-vpn-map.js';
import { importRtdirty } from '../../src/import/rtdirty-importer.js';
import type { TrackerName } from '../../src/reducers/tracker.js';
import { runCli } from '../cli/cli-run.js';
import { tempDir } from '../helpers/temp-dir.js';
import { readCapture, sample, userWrites } from './import-helpers.js';

const dir = tempDir('migsim-import-');
const MEM = 64 * 1024 * 1024;
const KNOWN = sample('known_writer_50ms.trace');
const PYTHON = sample('python_boot_10ms.trace');

/** Distinct items per interval [S(k-1), S(k)), interval 0 starting at 0. */
function perInterval<T>(ticks: number[], items: { tNs: number; key: T }[]): Set<T>[] {
  const sets = ticks.map(() => new Set<T>());
  for (const { tNs, key } of items) {
    let k = 0;
    while (k < ticks.length && tNs >= ticks[k]!) k++;
    if (k < ticks.length) sets[k]!.add(key);
  }
  return sets;
}

describe('import rtdirty: the known-pattern writer', () => {
  const out = join(dir, 'known.mst');
  const capture = readCapture(KNOWN);
  const ticks = capture.filter((r) => r.kind === 'S').map((r) => r.tNs);
  // The guest vpn of every source page, by the documented mapping.
  const map = new GuestVpnMap(vpnMapGeometry('x86-64'));
  for (const r of capture) if (r.kind === 'B' || r.kind === 'D') for (const p of r.pages) map.map(p);

  it('every interval of the imported trace writes exactly the pages the capture lists for it', async () => {
    await importRtdirty({ file: KNOWN, out, seed: 3, memBytes: MEM });
    const written = perInterval(ticks, userWrites(out).map((e) => ({ tNs: e.tNs, key: e.page })));
    // What the capture says: each D line's pages in its tick; B pages at the B time.
    const expected = perInterval(
      ticks,
      capture.flatMap((r, i) => {
        if (r.kind === 'B') return r.pages.map((p) => ({ tNs: r.tNs, key: map.peek(p) }));
        if (r.kind !== 'D') return [];
        const tick = capture.slice(i).find((x) => x.kind === 'S')!;
        return r.pages.map((p) => ({ tNs: tick.tNs - 1, key: map.peek(p) }));
      }),
    );
    expect(written.map((s) => s.size)).toEqual(expected.map((s) => s.size));
    written.forEach((s, k) => expect([...s].sort(), `interval ${k}`).toEqual([...expected[k]!].sort()));
  });

  it("the buffer's dirty pages per interval are the phase counts known_writer_50ms.verify.txt lists", () => {
    const phases = readFileSync(sample('known_writer_50ms.verify.txt'), 'utf8')
      .split('\n')
      .map((l) => /^phase (\d+): expected\s+(\d+) got\s+(\d+) in (\d+) interval/.exec(l))
      .filter((m) => m !== null)
      .map((m) => ({ expected: Number(m[2]), intervals: Number(m[4]) }));
    expect(phases.map((p) => p.expected)).toEqual([1024, 512, 342, 0, 11, 200, 0, 10, 24]);
    // The test program's 1024-page buffer (7faaf6400+1024 in the capture).
    const buffer = new Set<number>();
    for (let i = 0; i < 1024; i++) buffer.add(map.peek(0x7faaf6400 + i));
    expect(buffer.has(-1)).toBe(false);
    const perTick = perInterval(
      ticks,
      userWrites(out)
        .filter((e) => buffer.has(e.page))
        .map((e) => ({ tNs: e.tNs, key: e.page })),
    ).map((s) => s.size);
    // Each phase that writes fills exactly one interval; the reading phases none.
    const dirtyIntervals = perTick.filter((n) => n > 0);
    expect(dirtyIntervals).toEqual(phases.filter((p) => p.intervals > 0).map((p) => p.expected));
    expect(phases.filter((p) => p.intervals === 0).every((p) => p.expected === 0)).toBe(true);
    // "buffer pages reported before phase 1 (must be 0)".
    const firstPhase = perTick.findIndex((n) => n > 0);
    expect(perTick.slice(0, firstPhase).every((n) => n === 0)).toBe(true);
  });
});

describe('import rtdirty: the python boot', () => {
  const out = join(dir, 'python.mst');

  it('imports with the capture length, its identity in header.source and its figures in the footer', async () => {
    const r = await importRtdirty({ file: PYTHON, out, seed: 11, memBytes: MEM });
    expect(r.header.workload).toMatchObject({ name: 'import:rtdirty', seed: 11, durationNs: 340_146_000 });
    expect(r.header.traceKind).toBe('workload');
    expect(r.header.source).toMatchObject({
      format: 'rtdirty',
      version: 'v1',
      file: 'python_boot_10ms.trace',
      sha256: createHash('sha256').update(readFileSync(PYTHON)).digest('hex'),
      header: { page_size: '4096', interval_ms: '10.0', mechanism: 'uffd-wp-async+PAGEMAP_SCAN' },
      clock: 'ms',
      intervalNs: 10_000_000,
    });
    expect(r.footer.workloadStats).toMatchObject({ processesCreated: 1, processesExited: 1, intervals: 35, pagesWritten: 34_012, distinctPages: 3_841, baselinePages: 25 });
    const ws = r.footer.workloadStats;
    // README: "67% of an interval's pages also dirty in the previous one".
    expect(ws['overlapPages']! / ws['overlapBasePages']!).toBeCloseTo(0.67, 2);
  });

  // CPython's boot dirties about 100,000 pages/s (400 MB/s): a 10 Gbit/s
  // link lets xen's passes converge within the 0.34 s capture; the
  // migration starts 100 ms in, with the boot in full swing.
  it.each(['shadow', 'hap', 'pml'] as TrackerName[])('runs under %s with the xen policy and loses no page', (tracker) => {
    const s = runMigration(guestSource(out, { seed: 0 }), { tracker, migration: { policy: 'xen', startNs: 100_000_000, bandwidthBytesPerSec: 1_250_000_000 } });
    expect(s.outcome).toBe('completed');
    expect(s.lostPages).toBe(0);
    expect(s.lostPtes).toBe(0);
    expect(s.pagesSent).toBeGreaterThan(MEM / 4096);
  });

  it('inspect shows the source, processes created and exited, dirty pages per second, interval overlap and distinct pages', async () => {
    const j = JSON.parse((await runCli('inspect', out, '--json')).out);
    expect(j.source.file).toBe('python_boot_10ms.trace');
    expect(j.capture).toMatchObject({ format: 'rtdirty', file: 'python_boot_10ms.trace', processesCreated: 1, processesExited: 1 });
    expect(j.capture.captureHeader.interval_ms).toBe('10.0');
    expect(j.capture.importer).toMatchObject({ intervals: 35, pagesWritten: 34_012, distinctPages: 3_841 });
    expect(j.capture.trace.distinctPages).toBe(3_841);
    // About 970 pages per 10 ms (README); binned on the nominal interval.
    expect(j.capture.trace.dirtyPagesPerSecond).toBeGreaterThan(80_000);
    expect(j.capture.trace.dirtyPagesPerSecond).toBeLessThan(120_000);
    expect(j.capture.trace.overlap).toBeGreaterThan(0.6);
    expect(j.capture.trace.overlap).toBeLessThan(0.75);
    const text = (await runCli('inspect', out)).out;
    expect(text).toMatch(/capture +rtdirty python_boot_10ms\.trace, sha256 [0-9a-f]{64}/);
    expect(text).toMatch(/1 processes created, 1 exited; 35 intervals, 34,012 pages written, 3,841 distinct, 67\.\d% of an interval's pages/);
    expect(text).toMatch(/pages\/s over \d+ intervals/);
  });

  it("inspect reports each capture interval's overlap with the previous interval's dirty set, |A ∩ B| / |B| and Jaccard", async () => {
    // Interval 1: pages 0..99; interval 2: 50..149 (half of them dirty before, 50 of 150 in either);
    // interval 3: 50..149 again (all, the same set).
    const file = capture('stability.trace', ['P 0.500 100 1', 'S 10.000 1 0 0.01', 'D 15.000 100 100 7f0000000+100', 'S 20.000 1 100 0.01', 'D 25.000 100 100 7f0000032+100', 'S 30.000 1 100 0.01', 'D 35.000 100 100 7f0000032+100', 'S 40.000 1 100 0.01']);
    const out = join(dir, 'stability.mst');
    await importRtdirty({ file, out, seed: 1, memBytes: MEM, hz: 0 });
    const j = JSON.parse((await runCli('inspect', out, '--json')).out);
    const rows = j.capture.trace.perInterval as { dirtyPages: number; overlapWithPrevious?: number; jaccardWithPrevious?: number }[];
    expect(rows.map((r) => r.dirtyPages)).toEqual([100, 100, 100]);
    expect(rows[0]!.overlapWithPrevious).toBeUndefined();
    expect(rows.slice(1).map((r) => r.overlapWithPrevious)).toEqual([0.5, 1]);
    expect(rows.slice(1).map((r) => r.jaccardWithPrevious)).toEqual([50 / 150, 1]);
    const text = (await runCli('inspect', out)).out;
    expect(text).toMatch(/intervals +interval +start +dirty +also dirty before +jaccard/);
    expect(text).toMatch(/ 100 +50\.0% +0\.333\n/);
  });

  it('a gzip capture (told by its magic bytes, not its name) imports to the same events', async () => {
    const gz = join(dir, 'python-capture.bin');
    writeFileSync(gz, gzipSync(readFileSync(PYTHON)));
    const r = await importRtdirty({ file: gz, out: join(dir, 'python-gz.mst'), seed: 11, memBytes: MEM });
    expect(r.header.source).toMatchObject({ compressed: 'gzip', sha256: createHash('sha256').update(readFileSync(gz)).digest('hex') });
    const plain = await importRtdirty({ file: PYTHON, out: join(dir, 'python-again.mst'), seed: 11, memBytes: MEM });
    expect(r.footer.digest).toBe(plain.footer.digest);
  });
});

/** Writes a small capture; `lines` after the header. */
function capture(name: string, lines: string[], header = '# rtdirty v1 page_size 4096 interval_ms 10.0 mechanism test'): string {
  const file = join(dir, name);
  writeFileSync(file, [header, ...lines].join('\n') + '\n');
  return file;
}

describe('import rtdirty: processes and frames', () => {
  it('P of a captured parent forks it: the child keeps its parent\'s baseline pages shared until it writes them', async () => {
    const file = capture('fork.trace', [
      'P 1.000 100 1',
      'B 1.000 100 3 7f0000000+3',
      'b 1.000 100 3 5000 5001 5002',
      'S 5.000 1 0 0.01',
      'P 6.000 200 100',
      'B 6.000 200 3 7f0000000+3',
      'b 6.000 200 3 5000 5001 5002',
      'S 10.000 2 0 0.01',
      'D 15.000 200 1 7f0000001',
      'd 15.000 200 1 7777',
      'S 20.000 2 1 0.01',
    ]);
    const r = await importRtdirty({ file, out: join(dir, 'fork.mst'), seed: 1, memBytes: MEM, hz: 0 });
    expect(r.footer.workloadStats).toMatchObject({ forks: 1, inheritedPages: 3, cowCopies: 1, sharedFrames: 0, processesCreated: 2 });
  });

  it('pages that share a frame across processes share one guest frame', async () => {
    const lines = (frameOf200: string) => [
      'P 1.000 100 1',
      'B 1.000 100 2 7f0000000+2',
      'b 1.000 100 2 5000 5001',
      'P 1.000 200 1',
      'B 1.000 200 2 7f1000000+2',
      `b 1.000 200 2 ${frameOf200} 6000`,
      'S 10.000 2 0 0.01',
      'D 15.000 100 1 7f0000001',
      'd 15.000 100 1 5001',
      'D 15.000 200 1 7f1000000',
      `d 15.000 200 1 ${frameOf200}`,
      'S 20.000 2 2 0.01',
    ];
    const shared = await importRtdirty({ file: capture('shared.trace', lines('5001')), out: join(dir, 'shared.mst'), seed: 1, memBytes: MEM, hz: 0 });
    const apart = await importRtdirty({ file: capture('apart.trace', lines('7001')), out: join(dir, 'apart.mst'), seed: 1, memBytes: MEM, hz: 0 });
    expect(shared.footer.workloadStats['sharedFrames']).toBe(1);
    expect(apart.footer.workloadStats['sharedFrames']).toBe(0);
    // Four pages on three frames use one guest frame less than on four.
    expect(shared.footer.workloadStats['freePages']! - apart.footer.workloadStats['freePages']!).toBe(1);
  });

  it('E gives the process a new address space and Z tears it down (X alone when no Z came)', async () => {
    const file = capture('exec.trace', [
      'P 1.000 100 1',
      'B 1.000 100 1 7f0000000',
      'S 5.000 1 0 0.01',
      'E 6.000 100',
      'B 6.000 100 2 55000000+2',
      'D 8.000 100 1 55000000',
      'S 10.000 1 1 0.01',
      'Z 12.000 100',
      'P 12.500 300 1',
      'S 15.000 1 0 0.01',
      'X 16.000 100 exited',
      'X 17.000 300 killed',
      'S 20.000 0 0 0.01',
    ]);
    const r = await importRtdirty({ file, out: join(dir, 'exec.mst'), seed: 1, memBytes: MEM, hz: 0 });
    expect(r.footer.workloadStats).toMatchObject({ execs: 1, processesCreated: 2, processesExited: 2, liveProcesses: 0, captureExecs: 1, captureExits: 2 });
  });

  it('processes sharing a vCPU take turns within a tick and every D page is written once in its tick', async () => {
    const lines: string[] = [];
    const pids = [100, 101, 102, 103, 104];
    pids.forEach((pid, i) => lines.push(`P 1.${i} ${pid} 1`, `B 1.${i} ${pid} 1 7f${i}0000000`));
    lines.push('S 10.000 5 0 0.01');
    for (let tick = 1; tick <= 4; tick++) {
      for (const [i, pid] of pids.entries()) if (tick <= 2 || pid !== 103) lines.push(`D ${tick * 10 + 5}.000 ${pid} 50 7f${i}0000000+${20 + tick} 55${i}000000+${30 - tick}`);
      if (tick === 2) lines.push('P 25.000 105 100', 'Z 28.000 103', 'X 29.000 103 exited');
      lines.push(`S ${(tick + 1) * 10}.000 5 ${(tick <= 2 ? 5 : 4) * 50} 0.01`);
    }
    const file = capture('many.trace', lines);
    const out = join(dir, 'many.mst');
    const r = await importRtdirty({ file, out, seed: 9, memBytes: MEM, vcpus: 2 });
    expect(r.footer.workloadStats).toMatchObject({ processesCreated: 6, forks: 1, processesExited: 1, pagesWritten: 2 * 5 * 50 + 2 * 4 * 50 });
    const ticks = [10e6, 20e6, 30e6, 40e6, 50e6];
    const written = perInterval(ticks, userWrites(out).map((e) => ({ tNs: e.tNs, key: `${e.root}:${e.page}` }))).map((s) => s.size);
    // Interval 0: five baselines; then five processes (four after the exit at 28 ms, whose last D was at 25) of 50 pages.
    expect(written).toEqual([5, 250, 250, 200, 200]);
  });

  it('a capture timed in instructions becomes guest time at --ips instructions per second', async () => {
    const file = capture(
      'instr.trace',
      ['P 1000 100 1', 'B 1000 100 1 7f0000000', 'S 1000000 1 0 0.01', 'D 1500000 100 2 7f0000000+2', 'S 2000000 1 2 0.01'],
      '# rtdirty v1 page_size 4096 interval_instr 1000000 time_unit instructions',
    );
    const r = await importRtdirty({ file, out: join(dir, 'instr.mst'), seed: 1, memBytes: MEM, ips: 1e6 });
    // One instruction a microsecond: two ticks of a million instructions are 2 s.
    expect(r.header.workload.durationNs).toBe(2_000_000_000);
    expect(r.header.workload.params['ips']).toBe(1e6);
    expect(r.header.source).toMatchObject({ clock: 'instructions', intervalNs: 1_000_000_000 });
    const writes = userWrites(join(dir, 'instr.mst'));
    expect(writes.filter((w) => w.tNs >= 1e9 && w.tNs < 2e9).length).toBe(2);
  });
});

describe('import rtdirty: bad input', () => {
  const lines = readFileSync(KNOWN, 'utf8').split('\n');
  const badLine = 'D 100.431 17489 3 564a6a745+2';
  const bad = join(dir, 'bad.trace');
  writeFileSync(bad, [...lines.slice(0, 9), badLine, ...lines.slice(9)].join('\n'));

  it("a malformed line stops the import with FILE:LINE: malformed <what>: '<content>', exit 2 and no output file", async () => {
    const out = join(dir, 'bad.mst');
    const r = await runCli('import', 'rtdirty', bad, '-o', out, '--seed', '1', '--mem', '64MiB');
    expect(r.code).toBe(2);
    expect(r.err).toBe(`seed 1\nmigsim: ${bad}:10: malformed D record (it declares 3 pages but lists 2): '${badLine}'\n`);
    expect(existsSync(out)).toBe(false);
    expect(readdirSync(dir).filter((f) => f.startsWith('bad.mst'))).toEqual([]);
  });

  it('--skip-bad counts and skips malformed lines and reports the count', async () => {
    const out = join(dir, 'skipped.mst');
    const r = await runCli('import', 'rtdirty', bad, '-o', out, '--seed', '1', '--mem', '64MiB', '--skip-bad');
    expect(r.code).toBe(0);
    expect(r.err).toContain(`skipped ${bad}:10: malformed D record`);
    expect(r.err).toContain('skipped 1 malformed line\n');
    expect(existsSync(out)).toBe(true);
    const j = JSON.parse((await runCli('inspect', out, '--json')).out);
    expect(j.workloadStats.skippedLines).toBe(1);
  });

  it("a pid's first record attaches it: rtdirty v1 requires no P record", async () => {
    const file = capture('orphan.trace', ['S 1.000 0 0 0.01', 'D 5.000 42 1 7f0000000', 'S 10.000 1 1 0.01']);
    const r = await importRtdirty({ file, out: join(dir, 'orphan.mst'), seed: 1, memBytes: MEM });
    expect(r.footer.workloadStats).toMatchObject({ processesCreated: 1, pagesWritten: 1, implicitAttaches: 1 });
  });

  it('a capture converted from valgrind lackey (time_unit instructions, interval_instr, no P record) imports, at --instr-per-sec, shown in the header', async () => {
    // What a lackey-to-rtdirty converter writes: one process, no P line, ticks of 10 million instructions.
    const lines = ['B 0 4242 2 4025000+2'];
    for (let tick = 1; tick <= 4; tick++) lines.push(`D ${tick * 1e7 - 5e6} 4242 3 4025000+2 1ffefff00`, `S ${tick * 1e7} 1 3 0`);
    const file = capture('lackey-rtdirty.trace', lines, '# rtdirty v1 page_size 4096 interval_instr 10000000 time_unit instructions mechanism lackey');
    const out = join(dir, 'lackey-rtdirty.mst');
    const r = await runCli('import', 'rtdirty', file, '-o', out, '--seed', '1', '--mem', '64MiB', '--instr-per-sec', '2e8', '--json');
    expect(r.code).toBe(0);
    const h = JSON.parse((await runCli('inspect', out, '--json')).out);
    // 4 ticks of 10 million instructions at 2e8 a second: 200 ms.
    expect(h.workload.durationNs).toBe(200_000_000);
    expect(h.workload.params.ips).toBe(2e8);
    expect(h.workloadStats).toMatchObject({ processesCreated: 1, implicitAttaches: 1, pagesWritten: 12 });
  });

  it("the header's interval is read with the rounding of record times: past the sixth decimal, half up", async () => {
    const at = async (interval: string) => {
      const file = capture(`interval-${interval}.trace`, ['S 1.000 0 0 0.01'], `# rtdirty v1 page_size 4096 interval_ms ${interval}`);
      const r = await importRtdirty({ file, out: join(dir, `interval-${interval}.mst`), seed: 1, memBytes: MEM, hz: 0 });
      return (r.header.source as { intervalNs: number }).intervalNs;
    };
    expect(await at('0.1234565')).toBe(123457);
    expect(await at('0.1234564')).toBe(123456);
    expect(await at('10.0')).toBe(10_000_000);
  });

  it("the header's interval has the bound of record times: a whole part above 9e9 is malformed", async () => {
    // Checks the header rejects, on line 1, an interval whose millionths would pass 2^53, as a record's t is.
    const header = '# rtdirty v1 page_size 4096 interval_ms 9000000001.5';
    const file = capture('interval-too-big.trace', ['S 1.000 0 0 0.01'], header);
    await expect(importRtdirty({ file, out: join(dir, 'interval-too-big.mst'), seed: 1, memBytes: MEM, hz: 0 })).rejects.toThrow(
      `${file}:1: malformed header (interval '9000000001.5'): '${header}'`,
    );
    const atBound = capture('interval-at-bound.trace', ['S 1.000 0 0 0.01'], '# rtdirty v1 page_size 4096 interval_ms 9000000000');
    const r = await importRtdirty({ file: atBound, out: join(dir, 'interval-at-bound.mst'), seed: 1, memBytes: MEM, hz: 0 });
    expect((r.header.source as { intervalNs: number }).intervalNs).toBe(9e15);
  });

  it('a record earlier than the one before it in its tick, or than the S line before it, is refused on its line', async () => {
    const backwards = capture('backwards.trace', ['P 1.000 100 1', 'S 5.000 1 0 0.01', 'D 8.000 100 1 7f0000000', 'D 7.500 100 1 7f0000001', 'S 10.000 1 2 0.01']);
    await expect(importRtdirty({ file: backwards, out: join(dir, 'backwards.mst'), seed: 1, memBytes: MEM })).rejects.toThrow(
      `${backwards}:5: malformed D record (t 7.5 is before 8, the record before it in its tick: a tick's records come in time order): 'D 7.500 100 1 7f0000001'`,
    );
    const beforeTick = capture('before-tick.trace', ['P 1.000 100 1', 'S 5.000 1 0 0.01', 'D 4.000 100 1 7f0000000', 'S 10.000 1 1 0.01']);
    await expect(importRtdirty({ file: beforeTick, out: join(dir, 'before-tick.mst'), seed: 1, memBytes: MEM })).rejects.toThrow(
      `${beforeTick}:4: malformed D record (t 4 is before 5, the S line that ended the tick before): 'D 4.000 100 1 7f0000000'`,
    );
    const tickBack = capture('tick-back.trace', ['S 5.000 0 0 0.01', 'S 4.000 0 0 0.01']);
    await expect(importRtdirty({ file: tickBack, out: join(dir, 'tick-back.mst'), seed: 1, memBytes: MEM })).rejects.toThrow(`${tickBack}:3: malformed S record (t 4 is before the previous S line's 5: ticks come in time order)`);
  });

  it("an S line whose dirty count is not its tick's D pages is refused on its line (a process's last scan before its exit may be left out, as the samples do)", async () => {
    const wrong = capture('wrong-total.trace', ['P 1.000 100 1', 'S 5.000 1 0 0.01', 'D 8.000 100 3 7f0000000+3', 'S 10.000 1 2 0.01']);
    await expect(importRtdirty({ file: wrong, out: join(dir, 'wrong-total.mst'), seed: 1, memBytes: MEM })).rejects.toThrow(
      `${wrong}:5: malformed S record (it counts 2 dirty pages, but the D lines of its tick list 3): 'S 10.000 1 2 0.01'`,
    );
    const exitScan = ['P 1.000 100 1', 'S 5.000 1 0 0.01', 'D 8.000 100 3 7f0000000+3', 'Z 8.000 100'];
    for (const counted of [0, 3]) {
      const file = capture(`exit-scan-${counted}.trace`, [...exitScan, `S 10.000 1 ${counted} 0.01`]);
      const r = await importRtdirty({ file, out: join(dir, `exit-scan-${counted}.mst`), seed: 1, memBytes: MEM });
      expect(r.footer.workloadStats['pagesWritten']).toBe(3);
    }
    const r = await runCli('import', 'rtdirty', wrong, '-o', join(dir, 'wrong-skipped.mst'), '--seed', '1', '--mem', '64MiB', '--skip-bad');
    expect(r.code).toBe(0);
    expect(r.err).toContain(`skipped ${wrong}:5: malformed S record (it counts 2 dirty pages`);
  });

  it('a header without page_size is refused on line 1: page numbers mean nothing without it', async () => {
    const file = capture('no-page-size.trace', ['S 1.000 0 0 0.01'], '# rtdirty v1 interval_ms 10.0');
    const r = await runCli('import', 'rtdirty', file, '-o', join(dir, 'no-page-size.mst'), '--seed', '1');
    expect(r.code).toBe(2);
    expect(r.err).toContain(`migsim: ${file}:1: the header has no page_size: '# rtdirty v1 interval_ms 10.0': an rtdirty v1 header gives 'page_size 4096'`);
  });

  it('an unknown major version is rejected on line 1', async () => {
    const file = capture('v2.trace', ['S 1.000 0 0 0.01'], '# rtdirty v2 page_size 4096 interval_ms 10.0');
    const r = await runCli('import', 'rtdirty', file, '-o', join(dir, 'v2.mst'), '--seed', '1');
    expect(r.code).toBe(2);
    expect(r.err).toContain(`${file}:1: unsupported rtdirty version v2`);
  });
});
