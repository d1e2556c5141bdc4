// A file the user named that cannot be read or written is one line naming
// it, saying why in words, exit 2: `run FILE` that does not exist says so
// (and which workloads exist), a directory where a file is wanted says so,
// and errors of a write name the file asked for, not a temporary.
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { tempDir } from '../helpers/temp-dir.js';
import { runCli } from './cli-run.js';

const dir = tempDir('migsim-file-errors-');
const aDir = join(dir, 'a-directory');
mkdirSync(aDir);
const SMALL = ['--duration', '100ms', '--mem', '64MiB', '--seed', '1'];

/** The one line after the seed (if printed), and the exit code. */
function oneLine(r: { code: number; err: string }): string {
  expect(r.code).toBe(2);
  const lines = r.err.trim().split('\n').filter((l) => !/^seed \d+$/.test(l));
  expect(lines, r.err).toHaveLength(1);
  return lines[0]!;
}

describe('file errors', () => {
  it('run or compare of a file that does not exist says there is no such file, and lists the workloads', async () => {
    for (const cmd of [['run', 'nonexist.mst', '--tracker', 'hap'], ['compare', 'nonexist.mst']]) {
      expect(oneLine(await runCli(...cmd))).toBe('migsim: nonexist.mst: no such file, and no built-in workload has that name (built in: hot-set, boot, apache, muncher, idle)');
    }
  });

  it.each([
    ['inspect', () => ['inspect', aDir]],
    ['replay', () => ['replay', aDir, '--verify']],
    ['run', () => ['run', aDir, '--tracker', 'hap']],
    ['compare', () => ['compare', aDir]],
    ['export', () => ['export', aDir, '--perfetto', '-o', join(dir, 'x.json')]],
    ['report', () => ['report', aDir, '-o', join(dir, 'x.html')]],
  ])('%s of a directory names it: is a directory, not a trace file', async (_what, args) => {
    expect(oneLine(await runCli(...args()))).toBe(`migsim: ${aDir}: is a directory, not a trace file`);
  });

  it('import of a directory names it, and of a missing capture names that', async () => {
    expect(oneLine(await runCli('import', 'rtdirty', aDir, '-o', join(dir, 'x.mst')))).toBe(`migsim: ${aDir}: is a directory, not a capture`);
    const missing = join(dir, 'missing.trace');
    expect(oneLine(await runCli('import', 'rtdirty', missing, '-o', join(dir, 'x.mst')))).toBe(`migsim: ${missing}: cannot read: no such file or directory (ENOENT): check the path`);
  });

  it('writing over a directory, or into one that does not exist, names the file asked for, before any work', async () => {
    expect(oneLine(await runCli('record', 'hot-set', ...SMALL, '-o', aDir))).toBe(`migsim: ${aDir}: cannot write: is a directory (EISDIR): give a file name`);
    const inMissing = join(dir, 'no-such-dir', 'x.mst');
    expect(oneLine(await runCli('run', 'hot-set', ...SMALL, '--tracker', 'hap', '--record', inMissing))).toBe(`migsim: ${inMissing}: cannot write: no such directory '${join(dir, 'no-such-dir')}' (ENOENT): create it, or write elsewhere`);
  });
});
