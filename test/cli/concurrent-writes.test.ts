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
import { replayVerify } from '../../src/verify/replay.js';
import { EXIT_REPLACED } from '../../src/cli/cli-io.js';
import { type ProcessResult, spawnCli, waitFor } from '../helpers/spawn-cli.js';
import { tempDir } from '../helpers/temp-dir.js';

const base = tempDir('migsim-writes-');
/**
 * Small guests and few events (hot-set at 200,000 writes/s instead of its
 * 1 M/s): every trial spawns two commands and replays the survivor, and the
 * cost of the test is in those, not in what the rule needs. A first writer
 * of 60,000 events still takes far longer to write than the 10 ms poll that
 * catches it mid-write.
 */
const SMALL = ['--mem', '64MiB', '--set', 'rate=200000'];
/**
 * How long a spawned command may take to get somewhere before the test
 * gives up: a guard against a hang, not a speed target. On a shared
 * machine under a full test run, starting Node alone can take many
 * seconds.
 */
const PATIENCE_MS = 60_000;
const temporaries = (dir: string) => readdirSync(dir).filter((f) => f.endsWith('.partial'));

/**
 * The seed of a trace read through to its footer (every chunk decoded, the
 * digest checked) whose events are those its header's workload and seed
 * generate: one process's trace, not one's header over another's events.
 */
function seedOfCompleteTrace(path: string): number {
  const reader = TraceReader.open(path);
  const footer = reader.forEachChunk(() => {});
  expect(footer.guestEvents).toBeGreaterThan(0);
  expect(replayVerify(path).identical, `${path}: its events are not its header's workload`).toBe(true);
  return reader.header.workload.seed;
}

/**
 * One trial of two `record` processes writing c.mst. Started together, two
 * processes rarely write at the same moment (starting Node takes longer
 * than writing a small trace, and varies more), so the trial makes them:
 * the first is stopped (SIGSTOP) as soon as its temporary exists, holding
 * it open mid-write, while the second starts and writes; the first goes on
 * once the second has finished (even trials: the first renames last) or
 * as soon as the second is writing too (odd trials: either may rename
 * last). Returns whether the first was caught mid-write.
 */
async function twoWriters(trial: number): Promise<boolean> {
  const dir = join(base, `trial-${trial}`);
  mkdirSync(dir);
  const first = spawnCli(dir, 'record', 'hot-set', '--duration', '300ms', ...SMALL, '--seed', '5', '-o', 'c.mst');
  expect(await waitFor(() => temporaries(dir).length > 0 || existsSync(join(dir, 'c.mst')), PATIENCE_MS)).toBe(true);
  first.child.kill('SIGSTOP');
  const caught = !existsSync(join(dir, 'c.mst'));
  const second = spawnCli(dir, 'record', 'hot-set', '--duration', '100ms', ...SMALL, '--seed', '6', '-o', 'c.mst');
  if (trial % 2 === 0) await second.done;
  else await waitFor(() => temporaries(dir).length > 1, PATIENCE_MS);
  first.child.kill('SIGCONT');
  const bySeed = new Map<number, ProcessResult>([
    [5, await first.done],
    [6, await second.done],
  ]);
  const survivor = seedOfCompleteTrace(join(dir, 'c.mst'));
  expect(bySeed.get(survivor)!.code, `trial ${trial}: ${bySeed.get(survivor)!.err}`).toBe(0);
  for (const [seed, r] of bySeed) {
    // Replaced at once by the other's rename: it says so rather than claim the file.
    if (seed !== survivor && r.code === EXIT_REPLACED) expect(r.err).toMatch(/c\.mst: another process wrote this file at the same time/);
    else expect(r.code, `trial ${trial}, seed ${seed}: ${r.err}`).toBe(0);
  }
  expect(temporaries(dir)).toEqual([]);
  return caught;
}

/** A pid that no process has now: one that has just ended. */
async function deadPid(): Promise<number> {
  const child = spawn(process.execPath, ['-e', '']);
  await new Promise((r) => child.on('close', r));
  return child.pid!;
}

describe('writes from several processes', () => {
  it('two concurrent record processes to one path, 20 trials: the file left is complete and valid and is the trace of a process that exited 0', async () => {
    const caught: boolean[] = [];
    for (let t = 0; t < 20; t += 2) caught.push(...(await Promise.all([twoWriters(t), twoWriters(t + 1)])));
    // The trials test something only if the writes did overlap.
    expect(caught.filter(Boolean).length).toBeGreaterThanOrEqual(18);
  }, 20 * 2 * PATIENCE_MS);

  for (const signal of ['SIGINT', 'SIGTERM', 'SIGKILL'] as const) {
    it(`a ${signal} mid-record ends the process at once and leaves no temporary; the next run writes the file`, async () => {
      const dir = join(base, signal);
      mkdirSync(dir);
      // 60 s of guest time takes far longer to record than this test waits.
      const run = spawnCli(dir, 'record', 'hot-set', '--duration', '60s', '--mem', '64MiB', '--seed', '1', '-o', 'c.mst');
      const writing = await waitFor(() => temporaries(dir).some((f) => statSync(join(dir, f)).size > 0), PATIENCE_MS);
      expect(writing, 'the record never started writing').toBe(true);
      run.child.kill(signal);
      const r = await run.done;
      expect(r.signal).toBe(signal);
      expect(await waitFor(() => temporaries(dir).length === 0, PATIENCE_MS), `left behind: ${temporaries(dir).join(', ')}`).toBe(true);
      expect(existsSync(join(dir, 'c.mst'))).toBe(false);
      const next = await spawnCli(dir, 'record', 'hot-set', '--duration', '100ms', ...SMALL, '--seed', '2', '-o', 'c.mst').done;
      expect(next.code, next.err).toBe(0);
      expect(seedOfCompleteTrace(join(dir, 'c.mst'))).toBe(2);
      expect(temporaries(dir)).toEqual([]);
    }, 4 * PATIENCE_MS);
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
