// Checks run traces: `run --record` writes guest and run events that
// `replay --verify` re-derives identically, golden check passes on an
// untouched golden and shows the difference on a changed one, and a damaged
// run trace is one clear error.
import { copyFileSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { summaryText } from '../../src/verify/golden.js';
import { replayRunVerify } from '../../src/verify/replay-run.js';
import { runCli } from '../cli/cli-run.js';
import { readRecords, writeRecords } from '../helpers/trace-frames.js';
import { tempDir } from '../helpers/temp-dir.js';

const dir = tempDir();
const run = join(dir, 'run.mst');
const common = ['--duration', '1s', '--mem', '64MiB', '--seed', '11', '--set', 'rate=50000'];

beforeAll(async () => {
  const r = await runCli('run', 'hot-set', '--tracker', 'hap', '--record', run, ...common);
  expect(r.code).toBe(0);
});

describe('run traces', () => {
  it('replay --verify re-derives every run event and the summary', async () => {
    const r = await runCli('replay', run, '--verify');
    expect(r.code).toBe(0);
    expect(r.out).toContain('identical');
  });

  it('the recorded summary equals what run prints with --json', async () => {
    const j = JSON.parse((await runCli('run', 'hot-set', '--tracker', 'hap', '--json', ...common)).out);
    const recs = readRecords(run);
    const footer = recs[recs.length - 1] as { run: { summary: { downtimeNs: number; stateDigest: string } } };
    expect(footer.run.summary.downtimeNs).toBe(j.downtimeNs);
    expect(footer.run.summary.stateDigest).toBe(j.stateDigest);
  });

  it('a run trace whose header names another tracker replays to a reported difference', () => {
    const recs = readRecords(run);
    const h = recs[0] as { run: Record<string, unknown> };
    const file = join(dir, 'other.mst');
    writeRecords(file, [{ ...h, run: { ...h.run, superpages: 'whole', p2m: '4k' } }, ...recs.slice(1)]);
    const r = replayRunVerify(file);
    expect(r.identical).toBe(false);
    expect(r.firstDifference).toBeDefined();
  });

  it('a flipped byte in a run trace is one clear error with exit 2', async () => {
    const b = readFileSync(run);
    b[Math.floor(b.length / 2)] ^= 0x10;
    const file = join(dir, 'flip.mst');
    writeFileSync(file, b);
    const r = await runCli('replay', file, '--verify');
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/flip\.mst: .* \(.*at byte [\d,]+\)/);
  });
});

describe('golden', () => {
  it('golden check passes on a fresh golden and shows the changed line when the expected summary differs', async () => {
    const g = join(dir, 'golden');
    mkdirSync(g);
    copyFileSync(run, join(g, 'hs.mst'));
    const up = await runCli('golden', 'update', g);
    expect(up.code).toBe(0);
    expect(up.out).toContain('changed   hs');
    const ok = await runCli('golden', 'check', g);
    expect(ok.code).toBe(0);
    expect(ok.out).toContain('ok   hs');
    const summaryFile = join(g, 'hs.summary.txt');
    const text = readFileSync(summaryFile, 'utf8');
    writeFileSync(summaryFile, text.replace(/^downtimeNs: (\d+)$/m, 'downtimeNs: 1'));
    const bad = await runCli('golden', 'check', g);
    expect(bad.code).toBe(1);
    expect(bad.out).toMatch(/FAIL hs\n.*hs\.summary\.txt:\d+ - downtimeNs: 1\n.*\+ downtimeNs: \d+/);
  });

  it('the readable summary lists every round on its own line', () => {
    const r = replayRunVerify(run);
    const text = summaryText(r.summary!);
    expect(text.match(/^round \d+:/gm)!.length).toBe(r.summary!.rounds.length);
  });
});
