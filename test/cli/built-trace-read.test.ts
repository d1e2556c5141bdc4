// Checks that the built migsim (dist/cli, the bundle a user runs) reads a
// trace of 4 MiB or more, which it reads on its read-ahead thread
// (src/trace/read-ahead.ts), to the same output as the in-process CLI reading
// it on one thread: run, inspect and replay print the same bytes and exit 0.
// The bundle's worker file is CommonJS; the thread once looked for a named
// export there and every such read failed with exit 70.
import { statSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { record } from '../../src/api/record.js';
import { ReadAhead } from '../../src/trace/read-ahead.js';
import { runCli } from './cli-run.js';
import { spawnCli } from '../helpers/spawn-cli.js';
import { tempDir } from '../helpers/temp-dir.js';

const dir = tempDir();
const file = join(dir, 'hotset-3s.mst');

beforeAll(() => {
  record({ workload: 'hot-set', seed: 4, out: file, durationNs: 3e9 });
});

describe('the built migsim on a trace it reads ahead', () => {
  it('is a trace large enough to be read ahead', () => {
    expect(statSync(file).size).toBeGreaterThanOrEqual(ReadAhead.MIN_BYTES);
  });

  for (const args of [
    ['run', file, '--tracker', 'pml', '--json'],
    ['inspect', file, '--json'],
    ['replay', file],
  ]) {
    it(`${args[0]} prints what a read on one thread prints, and exits 0`, async () => {
      const built = await spawnCli(dir, ...args).done;
      const inProcess = await runCli(...args);
      expect(built.err).toBe('');
      expect(built.code).toBe(0);
      expect(inProcess.code).toBe(0);
      expect(built.out).toBe(inProcess.out);
    }, 60_000);
  }
});
