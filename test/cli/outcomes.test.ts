// Outcomes a script can read: each run ends completed (exit 0), failed (lost
// pages, exit 1) or incomplete (the guest's events ended first, exit 3);
// bad requests end in exit 2 with one line; an incomplete run claims no
// downtime and no oracle check; tables mark no best among runs that did not
// complete, nor on rows where lower is not better.
import { describe, expect, it } from 'vitest';
import { runCli } from './cli-run.js';

const SMALL_APACHE = ['apache', '--duration', '1s', '--mem', '256MiB', '--seed', '1'];

describe('run outcomes and exit codes', () => {
  it('a completed migration exits 0 and says the oracle checked every page', async () => {
    const r = await runCli('run', ...SMALL_APACHE, '--tracker', 'hap');
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/outcome\s+completed/);
    expect(r.out).toMatch(/lost pages\s+0 \(the oracle checked every page at resume\)/);
  });

  it('a migration that loses pages is failed, exit 1', async () => {
    // PML logged-only marks only the first 4 KiB page written in a 2 MiB
    // superpage (DESIGN section 6): hot-set's writes to the rest are lost.
    const r = await runCli('run', 'hot-set', '--duration', '400ms', '--mem', '64MiB', '--seed', '1', '--tracker', 'pml', '--superpages', 'logged-only', '--set', 'rate=20000', '--json');
    expect(r.code).toBe(1);
    const j = JSON.parse(r.out);
    expect(j.outcome).toBe('failed');
    expect(j.lostPages).toBeGreaterThan(0);
  });

  it('an incomplete migration exits 3, says what happened, and claims no downtime nor oracle check', async () => {
    const r = await runCli('run', 'hot-set', '--duration', '200ms', '--mem', '64MiB', '--seed', '1', '--tracker', 'hap', '--after-end', 'stop');
    expect(r.code).toBe(3);
    expect(r.out).toMatch(/outcome\s+incomplete/);
    expect(r.out).toMatch(/pages still to send/);
    expect(r.out).not.toMatch(/downtime\s+\d/);
    expect(r.out).not.toMatch(/oracle checked/);
    const j = JSON.parse((await runCli('run', 'hot-set', '--duration', '200ms', '--mem', '64MiB', '--seed', '1', '--tracker', 'hap', '--after-end', 'stop', '--json')).out);
    expect(j.outcome).toBe('incomplete');
    expect(j.remainingPages).toBeGreaterThan(0);
  });

  it('compare marks no best value among runs that did not complete', async () => {
    const r = await runCli('compare', 'hot-set', '--duration', '200ms', '--mem', '64MiB', '--seed', '1', '--trackers', 'hap,pml', '--after-end', 'stop', '--json');
    expect(r.code).toBe(3);
    const j = JSON.parse(r.out);
    for (const f of j.figures) expect(f.best, f.name).toBe(-1);
  });

  it('compare never marks a best round count (more rounds is not worse)', async () => {
    const r = await runCli('compare', ...SMALL_APACHE, '--trackers', 'shadow,hap', '--json');
    const j = JSON.parse(r.out);
    expect(j.figures.find((f: { name: string }) => f.name === 'rounds').best).toBe(-1);
  });
});

describe('bad requests: exit 2 and one line', () => {
  // The seed a run drew is printed first, so that it can be repeated; the error is one line after it.
  const oneLine = (r: { code: number; err: string }) => {
    expect(r.code).toBe(2);
    expect(r.err.trim().split('\n').filter((l) => !/^seed \d+$/.test(l)), r.err).toHaveLength(1);
    expect(r.err).not.toMatch(/\n\s+at /);
  };

  it('a start at or after the guest events end', async () => {
    const r = await runCli('run', ...SMALL_APACHE, '--tracker', 'hap', '--start', '2s');
    oneLine(r);
    expect(r.err).toMatch(/--start .* at or after the guest's end/);
  });

  it('a duration without a unit, or of zero', async () => {
    oneLine(await runCli('run', 'apache', '--duration', '10', '--tracker', 'hap'));
    oneLine(await runCli('run', 'apache', '--duration', '0s', '--tracker', 'hap'));
  });

  it('tracker direct under a live policy', async () => {
    const r = await runCli('run', 'apache', '--guest', 'pv', '--duration', '1s', '--mem', '256MiB', '--tracker', 'direct');
    oneLine(r);
    expect(r.err).toMatch(/direct.*checkpoint/);
    oneLine(await runCli('compare', 'apache', '--guest', 'pv', '--duration', '1s', '--mem', '256MiB', '--trackers', 'shadow,direct'));
  });

  it('a Remus interval below 1 ms (xl remus takes whole ms; shorter never lets the guest run)', async () => {
    oneLine(await runCli('run', 'apache', '--tracker', 'hap', '--policy', 'remus', '--epoch', '1ns'));
  });

  it('a workload parameter above what its help promises', async () => {
    const r = await runCli('run', 'apache', '--tracker', 'hap', '--set', 'workers=100000');
    oneLine(r);
    expect(r.err).toMatch(/at most 256/);
  });

  it('a usage mistake commander finds is one line too, the pointer to --help on it', async () => {
    const r = await runCli('run', 'apache', '--tracker', 'hap', '--duration', '10');
    oneLine(r);
    expect(r.err.trim()).toBe("error: option '--duration <time>' argument '10' is invalid. '10' has no unit: write 10s, 250ms or 1500us (add --help for usage)");
  });
});

describe('--help documents the exit codes', () => {
  it.each([[[]], [['run']], [['compare']], [['replay']], [['report']], [['golden', 'check']], [['import', 'rtdirty']]])('migsim %j --help lists 0, 1, 2, 3, 4 and 70', async (cmd) => {
    const r = await runCli(...cmd, '--help');
    expect(r.code).toBe(0);
    for (const code of ['0  completed', '1  failed', '2  bad input', '3  incomplete', '4  replaced', '70 internal error']) expect(r.out).toContain(`\n  ${code}`);
  });
});
