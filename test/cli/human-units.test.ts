// Human units in every --help default and every message about a size or a
// time: 10s and 1GiB, never 10000000000, 1073741824 or a count of pages
// to be converted by hand.
import { describe, expect, it } from 'vitest';
import { runCli } from './cli-run.js';

/** The command paths `--help` lists, found by reading each help's Commands section, so a new command is checked too. */
async function commandPaths(prefix: string[] = []): Promise<string[][]> {
  const help = (await runCli(...prefix, '--help')).out;
  // The section ends at the first blank line (the exit codes follow it).
  const section = help.split(/^Commands:$/m)[1]?.split(/\n\s*\n/)[0];
  if (!section) return [prefix];
  const names = [...section.matchAll(/^ {2}(\S+)/gm)].map((m) => m[1]!).filter((n) => n !== 'help');
  const nested = await Promise.all(names.map((n) => commandPaths([...prefix, n])));
  return nested.flat();
}

describe('human units', () => {
  it('every --help shows its defaults as a user would type them, never a raw count of ns, bytes or pages', async () => {
    const paths = await commandPaths();
    expect(paths.map((p) => p.join(' '))).toEqual(expect.arrayContaining(['record', 'run', 'compare', 'report', 'golden check', 'import rtdirty']));
    for (const p of paths) {
      const help = (await runCli(...p, '--help')).out.replace(/\s+/g, ' ');
      const defaults = [...help.matchAll(/\(default: ([^)]*)\)/g)].map((m) => m[1]!);
      for (const d of defaults) expect(d, `migsim ${p.join(' ')} --help`).not.toMatch(/^\d{4,}$/);
    }
  });

  it('record and run --help show 10s, 1GiB, 1Gbit, 128MiB/s, 300ms and 200ms', async () => {
    const record = (await runCli('record', '--help')).out.replace(/\s+/g, ' ');
    expect(record).toContain('guest time to run (10s, 250ms) (default: 10s)');
    expect(record).toContain('guest memory (1GiB, 512MiB) (default: 1GiB)');
    const run = (await runCli('run', '--help')).out.replace(/\s+/g, ' ');
    for (const shown of ['(default: 1Gbit)', '(default: 128MiB/s)', 'downtime-limit (default: 300ms)', 'checkpoint interval (default: 200ms)']) expect(run).toContain(shown);
  });

  it('a guest memory the model cannot take is named in the units it was given, with what to give instead', async () => {
    const tooSmall = await runCli('record', 'hot-set', '-o', 'never-written.mst', '--mem', '1000');
    expect(tooSmall.code).toBe(2);
    expect(tooSmall.err).toContain('guest memory of 1000B (--mem) is too small: give at least 256KiB');
    const ragged = await runCli('record', 'hot-set', '-o', 'never-written.mst', '--mem', '1048577');
    expect(ragged.err).toContain('is not a whole number of 4 KiB pages: give a multiple of 4KiB, such as 1028KiB');
    const tooLarge = await runCli('record', 'hot-set', '-o', 'never-written.mst', '--mem', '8TiB');
    expect(tooLarge.err).toMatch(/guest memory of 8TiB \(--mem\) exceeds what the model's PTE holds for HVM guests: give at most 4TiB/);
    for (const r of [tooSmall, ragged, tooLarge]) expect(r.err).not.toMatch(/\d pages/);
  });
});
