// Checks the progress bar (issue 7): drawn on a terminal only, never on a
// pipe or with --json, only once a command has run for a second, and
// redrawn from update calls alone (the simulation is synchronous, so no
// timer could fire while it runs).
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { CliContext } from '../../src/cli/cli-io.js';
import { main } from '../../src/cli/main.js';
import { createProgress, withProgressAsync } from '../../src/cli/progress.js';
import { runCli } from '../cli/cli-run.js';
import { tempDir } from '../helpers/temp-dir.js';

const dir = tempDir();
// Long enough to run past a second on any machine this runs on.
const LONG_RECORD = ['record', 'hot-set', '--duration', '40s', '--mem', '64MiB', '--seed', '1'];
const ESC = '\u001b';

async function onTerminal(...argv: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const code = await main(argv, { out: (t) => (out += t), err: (t) => (err += t), isTty: true });
  return { code, out, err };
}

function busyMs(ms: number): void {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    // a synchronous stretch of work, as a simulation is
  }
}

describe('progress bar', () => {
  it('no progress output when stdout is not a terminal, even on a command that runs for seconds', async () => {
    const started = Date.now();
    const r = await runCli(...LONG_RECORD, '-o', join(dir, 'pipe.mst'));
    expect(Date.now() - started).toBeGreaterThan(1000);
    expect(r.code).toBe(0);
    expect(r.err).toBe('seed 1\n');
    expect(r.out).not.toContain(ESC);
    expect(r.out).not.toContain('\r');
  }, 60_000);

  it('no progress output from compare and report when stdout is not a terminal', async () => {
    const c = await runCli('compare', '--duration', '2s', '--mem', '256MiB', '--seed', '1');
    expect(c.code).toBe(0);
    expect(c.err).toBe('seed 1\n');
    const r = await runCli('report', '--compare', '--duration', '2s', '--mem', '256MiB', '--seed', '1', '-o', join(dir, 'r.html'));
    expect(r.code).toBe(0);
    expect(r.err).toBe('seed 1\n');
    expect(r.out).not.toContain(ESC);
  }, 60_000);

  it('no progress output with --json, even on a terminal', async () => {
    const r = await onTerminal(...LONG_RECORD, '-o', join(dir, 'json.mst'), '--json');
    expect(r.code).toBe(0);
    expect(r.err).toBe('');
    expect(() => JSON.parse(r.out)).not.toThrow();
  }, 60_000);

  it('a terminal gets a bar on stderr once a command runs past a second, and stdout stays clean', async () => {
    const r = await onTerminal(...LONG_RECORD, '-o', join(dir, 'tty.mst'));
    expect(r.code).toBe(0);
    expect(r.err).toMatch(/^seed 1\n/);
    expect(r.err).toContain('record hot-set [');
    expect(r.err).toMatch(/\d+% \d+\.\d+ s\/40\.000 s/);
    expect(r.out).not.toContain(ESC);
  }, 60_000);

  it('a command shorter than a second draws nothing on a terminal', async () => {
    const r = await onTerminal('record', 'hot-set', '--duration', '10ms', '--mem', '64MiB', '--seed', '1', '-o', join(dir, 'short.mst'));
    expect(r.code).toBe(0);
    expect(r.err).toBe('seed 1\n');
  });

  it('redraws from update calls alone, at most about ten times a second, and clears its line at stop', () => {
    let err = '';
    const ctx: CliContext = { io: { out: () => {}, err: (t) => (err += t), isTty: true }, argv: [], setExit: () => {} };
    const p = createProgress(ctx, 'work', 100, { delayMs: 0 });
    let draws = 0;
    for (let i = 0; i <= 60; i++) {
      busyMs(10);
      p.update(i);
      draws = err.split('work [').length - 1;
    }
    p.stop();
    // 600 ms of synchronous work: several redraws, though no timer could run.
    expect(draws).toBeGreaterThanOrEqual(2);
    expect(draws).toBeLessThanOrEqual(8);
    // stop shows the cursor again, restores line wrapping and clears the bar's line.
    expect(err.endsWith(`${ESC}[?25h${ESC}[?7h${ESC}8${ESC}[1G${ESC}[2K`)).toBe(true);
  });

  it('is a no-op off a terminal: update and stop write nothing', () => {
    let err = '';
    const ctx: CliContext = { io: { out: () => {}, err: (t) => (err += t), isTty: false }, argv: [], setExit: () => {} };
    const p = createProgress(ctx, 'work', 10, { delayMs: 0 });
    p.update(5);
    p.stop();
    expect(err).toBe('');
  });
});

describe('withProgressAsync', () => {
  // Checks that the bar is stopped once async work resolves, and what it resolved to comes back.
  it('stops the progress after the work resolves and returns its value', async () => {
    const events: string[] = [];
    const progress = { stop: () => events.push('stop') };
    const r = await withProgressAsync(progress, async () => {
      await Promise.resolve();
      events.push('work done');
      return 42;
    });
    expect(r).toBe(42);
    expect(events).toEqual(['work done', 'stop']);
  });

  // Checks that the bar is stopped when async work rejects, and that the rejection reaches the caller.
  it('stops the progress when the work rejects, and rejects with the same error', async () => {
    let stops = 0;
    const failure = new Error('import failed');
    const done = withProgressAsync({ stop: () => stops++ }, async () => {
      await Promise.resolve();
      throw failure;
    });
    await expect(done).rejects.toBe(failure);
    expect(stops).toBe(1);
  });

  // Checks that work throwing before it returns a promise also stops the bar and rejects.
  it('stops the progress when the work throws synchronously', async () => {
    let stops = 0;
    const failure = new Error('bad arguments');
    const done = withProgressAsync({ stop: () => stops++ }, () => {
      throw failure;
    });
    await expect(done).rejects.toBe(failure);
    expect(stops).toBe(1);
  });
});
