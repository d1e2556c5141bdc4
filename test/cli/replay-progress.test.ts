// Checks the progress of `migsim replay`: each replay (a workload trace
// regenerated from its header, a run trace re-derived, an imported trace
// read and imported again) tells onProgress the share of the work done,
// once per chunk or block of the capture; the command draws it as a bar on
// stderr on a terminal, stdout byte for byte what a pipe gets, and draws
// none with --json or on a pipe.
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { replayVerify } from '../../src/verify/replay.js';
import { replayImportVerify } from '../../src/verify/replay-import.js';
import { replayRunVerify } from '../../src/verify/replay-run.js';
import { TraceReader } from '../../src/trace/trace-reader.js';
import { sample } from '../import/import-helpers.js';
import { expectRisingShares } from '../helpers/progress-fractions.js';
import { recordSmallHotSet, recordSmallHotSetRun } from '../helpers/small-trace.js';
import { tempDir } from '../helpers/temp-dir.js';
import { BAR_CLEARED, runCli, runCliAt } from './cli-run.js';

const dir = tempDir();
const workload = join(dir, 'hs.mst');
const run = join(dir, 'hs-hap.mst');
const imported = join(dir, 'kw.mst');
const capture = sample('known_writer_50ms.trace');

beforeAll(async () => {
  await recordSmallHotSet(workload);
  await recordSmallHotSetRun(run, 'hap');
  expect((await runCli('import', 'rtdirty', capture, '-o', imported, '--seed', '4')).code).toBe(0);
});

const chunksOf = (file: string) => TraceReader.open(file).forEachChunk(() => {}).chunks;
/** The share of `file` read at the end of its last chunk, just before the footer. */
const lastChunkEnd = (file: string) => {
  const reader = TraceReader.open(file);
  let end = 0;
  reader.forEachChunk(() => (end = reader.fractionRead));
  return end;
};

describe('replay progress', () => {
  it('replaying a workload trace reports the share of it read, once per guest chunk', () => {
    const shares: number[] = [];
    expect(replayVerify(workload, (f) => shares.push(f)).identical).toBe(true);
    expect(shares).toHaveLength(chunksOf(workload));
    expectRisingShares(shares, 0.99);
  });

  it('replaying a run trace reports the share of it read, once per chunk, guest or run', () => {
    const shares: number[] = [];
    expect(replayRunVerify(run, (f) => shares.push(f)).identical).toBe(true);
    expect(shares).toHaveLength(chunksOf(run));
    expectRisingShares(shares, 0.99);
  });

  it('verifying an imported trace reports the share of it read, then of the capture imported again', async () => {
    const read: number[] = [];
    expect((await replayImportVerify(imported, undefined, (f) => read.push(f))).identical).toBe(true);
    expect(read).toHaveLength(chunksOf(imported));
    // The imported trace is small (one chunk, 27 KB): its footer is a few
    // per cent of it, so the read ends there, not at 99%.
    expectRisingShares(read, lastChunkEnd(imported));
    const both: number[] = [];
    expect((await replayImportVerify(imported, capture, (f) => both.push(f))).identical).toBe(true);
    expectRisingShares(both, 1);
    // The read comes first and is the smaller part of the work.
    expect(both.slice(0, read.length).every((f) => f < 0.5)).toBe(true);
    expect(both.length).toBeGreaterThan(read.length);
  });

  it('a terminal gets a bar on stderr, cleared before the result, and stdout is what a pipe gets, for every kind of trace', async () => {
    for (const args of [[workload], [run], [imported], [imported, '--source', capture]]) {
      const tty = await runCliAt('terminal', 'replay', ...args);
      expect(tty.code).toBe(0);
      expect(tty.err).toContain('replay [');
      expect(tty.err.endsWith(BAR_CLEARED)).toBe(true);
      expect(tty.out).toBe((await runCliAt('pipe', 'replay', ...args)).out);
    }
  });

  it('no bar with --json on a terminal, nor on a pipe (where a terminal draws one)', async () => {
    expect((await runCliAt('terminal', 'replay', run)).err).toContain('replay [');
    const json = await runCliAt('terminal', 'replay', run, '--json');
    expect(json.code).toBe(0);
    expect(json.err).toBe('');
    expect(JSON.parse(json.out)).toMatchObject({ identical: true });
    const pipe = await runCliAt('pipe', 'replay', run);
    expect(pipe.code).toBe(0);
    expect(pipe.err).toBe('');
  });
});
