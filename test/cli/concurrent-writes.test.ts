// Writes that cannot be lost or crossed, as real processes see them (the
// built CLI, `node dist/src/cli/bin.js`): two `record` processes writing
// one file leave one complete, valid trace, of a process that exited 0,
// and each exit code is true of its own file; a record stopped by a
// signal, even SIGKILL, leaves no temporary, and the next run writes the
// file; a temporary whose process is gone is removed by the next write.
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { TraceReader } from '../../src/trace/trace-reader.js';
import { EXIT_REPLACED } from '../../src/cli/cli-io.js';
import { type ProcessResult, spawnCli, waitFor } from '../helpers/spawn-cli.js';
import { tempDir } from '../helpers/temp-dir.js';

const base = tempDir('migsim-writes-');
const SMALL = ['--mem', '64MiB'];
const temporaries = (dir: string) => readdirSync(dir).filter((f) => f.endsWith('.partial'));

/** The seed of a trace read through to its footer (every chunk decoded, the digest checked). */
function seedOfCompleteTrace(path: string): number {
  const reader = TraceReader.open(path);
  const footer = reader.forEachChunk(() => {});
  expect(footer.guestEvents).toBeGreaterThan(0);
  return reader.header.workload.seed;
}

async function twoWriters(trial: number): Promise<void> {
  const dir = join(base, `trial-${trial}`);
  mkdirSync(dir);
  // Different lengths, so that either may rename last.
  const a = spawnCli(dir, 'record', 'hot-set', '--duration', '300ms', ...SMALL, '--seed', '5', '-o', 'c.mst');
  const b = spawnCli(dir, 'record', 'hot-set', '--duration', '200ms', ...SMALL, '--seed', '6', '-o', 'c.mst');
  const bySeed = new Map<number, ProcessResult>([
    [5, await a.done],
    [6, await b.done],
  ]);
  const survivor = seedOfCompleteTrace(join(dir, 'c.mst'));
  expect(bySeed.get(survivor)!.code, `trial ${trial}: ${bySeed.get(survivor)!.err}`).toBe(0);
  for (const [seed, r] of bySeed) {
    // Replaced at once by the other's rename: it says so rather than claim the file.
    if (seed !== survivor && r.code === EXIT_REPLACED) expect(r.err).toMatch(/c\.mst: another process wrote this file at the same time/);
    else expect(r.code, `trial ${trial}, seed ${seed}: ${r.err}`).toBe(0);
  }
  expect(temporaries(dir)).toEqual([]);
}

/** A pid that no process has now: one that has just ended. */
async function deadPid(): Promise<number> {
  const child = spawn(process.execPath, ['-e', '']);
  await new Promise((r) => child.on('close', r));
  return child.pid!;
}

describe('writes from several processes', () => {
  it('two concurrent record processes to one path, 20 trials: the file left is complete and valid and is the trace of a process that exited 0', async () => {
    for (let t = 0; t < 20; t += 2) await Promise.all([twoWriters(t), twoWriters(t + 1)]);
  });

  for (const signal of ['SIGINT', 'SIGTERM', 'SIGKILL'] as const) {
    it(`a ${signal} mid-record ends the process at once and leaves no temporary; the next run writes the file`, async () => {
      const dir = join(base, signal);
      mkdirSync(dir);
      // 60 s of guest time takes far longer to record than this test waits.
      const run = spawnCli(dir, 'record', 'hot-set', '--duration', '60s', ...SMALL, '--seed', '1', '-o', 'c.mst');
      const writing = await waitFor(() => temporaries(dir).some((f) => statSync(join(dir, f)).size > 0), 15_000);
      expect(writing, 'the record never started writing').toBe(true);
      run.child.kill(signal);
      const r = await run.done;
      expect(r.signal).toBe(signal);
      expect(await waitFor(() => temporaries(dir).length === 0, 5_000), `left behind: ${temporaries(dir).join(', ')}`).toBe(true);
      expect(existsSync(join(dir, 'c.mst'))).toBe(false);
      const next = await spawnCli(dir, 'record', 'hot-set', '--duration', '100ms', ...SMALL, '--seed', '2', '-o', 'c.mst').done;
      expect(next.code, next.err).toBe(0);
      expect(seedOfCompleteTrace(join(dir, 'c.mst'))).toBe(2);
      expect(temporaries(dir)).toEqual([]);
    });
  }

  it('a temporary whose process is gone is removed by the next write to its file; one of a running process is kept', async () => {
    const dir = join(base, 'stale');
    mkdirSync(dir);
    const gone = join(dir, `c.mst.${await deadPid()}.1.partial`);
    const running = join(dir, `c.mst.${process.pid}.1.partial`);
    writeFileSync(gone, 'left by a killed process');
    writeFileSync(running, 'being written by a running process');
    const r = await spawnCli(dir, 'record', 'hot-set', '--duration', '100ms', ...SMALL, '--seed', '3', '-o', 'c.mst').done;
    expect(r.code, r.err).toBe(0);
    expect(existsSync(gone)).toBe(false);
    expect(existsSync(running)).toBe(true);
    expect(seedOfCompleteTrace(join(dir, 'c.mst'))).toBe(3);
  });
});
