// Checks that a run whose state outgrows the machine's memory is stopped
// by migsim (src/cli/memory-guard.ts) with one line and exit 2, before the
// kernel's OOM killer would end it with nothing said (`run muncher --mem
// 4TiB`, which maps all its memory, was killed at 24 GB after 433 s), and
// that nothing is left half-written. The limit is set low through the
// CLI's io, as a test can; the guard's rule itself with a stand-in for the
// resident size.
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { MemoryGuard, MemoryLimitError } from '../../src/cli/memory-guard.js';
import { runCli, runCliWithMemoryLimit } from './cli-run.js';
import { tempDir } from '../helpers/temp-dir.js';

const dir = tempDir();
const GIB = 1024 ** 3;

describe('memory guard', () => {
  it('lets a run go on up to its limit, and past it throws one line naming how far the run got and what to lower', () => {
    let rss = 10 * GIB;
    const guard = new MemoryGuard(() => ({ limitBytes: 21.6 * GIB, machineBytes: 24 * GIB }), () => rss);
    expect(() => guard.check(1e9, 4e9)).not.toThrow();
    rss = 22 * GIB;
    expect(() => guard.check(1e9, 4e9)).toThrow(MemoryLimitError);
    expect(() => guard.check(1e9, 4e9)).toThrow(/^stopped at 25% of the guest's time: migsim holds 22(\.00)? GiB, more than 90% of the 24(\.00)? GiB this machine gives it.*lower --mem/);
  });

  it('run, compare and record stop with exit 2 and one line, no stack, and leave no output file', async () => {
    const trace = join(dir, 'run.mst');
    const recorded = join(dir, 'rec.mst');
    for (const argv of [
      ['run', 'muncher', '--tracker', 'pml', '--duration', '1s', '--seed', '1', '--record', trace],
      ['compare', 'muncher', '--duration', '1s', '--seed', '1'],
      ['record', 'muncher', '--duration', '1s', '--seed', '1', '-o', recorded],
    ]) {
      const r = await runCliWithMemoryLimit(1, ...argv);
      expect(r.code).toBe(2);
      const lines = r.err.split('\n').filter((l) => l.startsWith('migsim:'));
      expect(lines).toHaveLength(1);
      expect(lines[0]).toMatch(/^migsim: stopped at \d+% of the guest's time: migsim holds /);
      expect(r.err).not.toMatch(/\n\s+at /);
      expect(r.out).toBe('');
    }
    expect(existsSync(trace)).toBe(false);
    expect(existsSync(recorded)).toBe(false);
    expect(readdirSync(dir)).toEqual([]);
  });

  it('a run within the machine is not stopped', async () => {
    const r = await runCli('run', 'muncher', '--tracker', 'pml', '--duration', '1s', '--seed', '1', '--json');
    expect(r.code).toBe(0);
  });
});
