// Checks the progress of `migsim golden check` and `golden update`:
// checkGolden and updateGolden tell onProgress the share of a case done;
// the commands draw one bar over all the cases on stderr on a terminal,
// cleared before each case's result is printed (a bar drawn over stdout
// lines would garble them), stdout byte for byte what a pipe gets; a pipe
// gets no bar.
import { copyFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { checkGolden, goldenCases, updateGolden } from '../../src/verify/golden.js';
import { main } from '../../src/cli/main.js';
import { expectRisingShares } from '../helpers/progress-fractions.js';
import { recordSmallHotSetRun } from '../helpers/small-trace.js';
import { tempDir } from '../helpers/temp-dir.js';
import { BAR_CLEARED, runCli, runCliAt } from './cli-run.js';

const dir = join(tempDir(), 'golden');

beforeAll(async () => {
  mkdirSync(dir);
  await recordSmallHotSetRun(join(dir, 'hs-hap.mst'), 'hap');
  await recordSmallHotSetRun(join(dir, 'hs-pml.mst'), 'pml');
  expect((await runCli('golden', 'update', dir)).code).toBe(0);
});

/** Everything the command wrote, stdout and stderr in the order written. */
async function transcript(...argv: string[]): Promise<{ code: number; writes: { to: 'out' | 'err'; text: string }[] }> {
  const writes: { to: 'out' | 'err'; text: string }[] = [];
  const code = await main(argv, { out: (text) => writes.push({ to: 'out', text }), err: (text) => writes.push({ to: 'err', text }), isTty: true, progressDelayMs: 0 });
  return { code, writes };
}

/** True when every stdout write comes with no bar on screen: whatever stderr got since the last one ends with the bar's line cleared. */
function resultsPrintedClear(writes: readonly { to: 'out' | 'err'; text: string }[]): boolean {
  let sinceOut = '';
  for (const w of writes) {
    if (w.to === 'err') sinceOut += w.text;
    else if (sinceOut !== '' && !sinceOut.endsWith(BAR_CLEARED)) return false;
    else sinceOut = '';
  }
  return true;
}

describe('golden progress', () => {
  it('checkGolden reports the share of the case done, through both replays of a built-in workload', () => {
    const [c] = goldenCases(dir);
    const shares: number[] = [];
    expect(checkGolden(c!, (f) => shares.push(f)).ok).toBe(true);
    expectRisingShares(shares, 0.99);
    // The guest events' replay is the first half, the run events' the second.
    expect(shares.some((f) => f < 0.5)).toBe(true);
    expect(shares.some((f) => f > 0.5)).toBe(true);
  });

  it('updateGolden reports the share of the guest time re-run', () => {
    const scratch = join(dir, '..', 'update');
    mkdirSync(scratch);
    const [c] = goldenCases(dir);
    copyFileSync(c!.trace, join(scratch, 'one.mst'));
    copyFileSync(c!.summaryFile, join(scratch, 'one.summary.txt'));
    const shares: number[] = [];
    expect(updateGolden(goldenCases(scratch)[0]!, (f) => shares.push(f)).differences).toEqual([]);
    expectRisingShares(shares, 1);
  });

  it('check on a terminal: one bar over the cases, cleared before each result; stdout is what a pipe gets', async () => {
    const t = await transcript('golden', 'check', dir);
    expect(t.code).toBe(0);
    const err = t.writes.filter((w) => w.to === 'err').map((w) => w.text).join('');
    expect(err).toContain('golden check [');
    expect(err).toMatch(/ 1\/2 \|/);
    expect(resultsPrintedClear(t.writes)).toBe(true);
    expect(err.endsWith(BAR_CLEARED)).toBe(true);
    const out = t.writes.filter((w) => w.to === 'out').map((w) => w.text).join('');
    expect(out).toBe('ok   hs-hap\nok   hs-pml\n');
    expect(out).toBe((await runCliAt('pipe', 'golden', 'check', dir)).out);
  });

  it('update on a terminal: the same, and stdout is what a pipe gets', async () => {
    const t = await transcript('golden', 'update', dir);
    expect(t.code).toBe(0);
    const err = t.writes.filter((w) => w.to === 'err').map((w) => w.text).join('');
    expect(err).toContain('golden update [');
    expect(resultsPrintedClear(t.writes)).toBe(true);
    const out = t.writes.filter((w) => w.to === 'out').map((w) => w.text).join('');
    expect(out).toBe('unchanged hs-hap\nunchanged hs-pml\n');
    expect(out).toBe((await runCliAt('pipe', 'golden', 'update', dir)).out);
  });

  it('a pipe gets no bar (where a terminal draws one)', async () => {
    expect((await runCliAt('terminal', 'golden', 'check', dir)).err).toContain('golden check [');
    const pipe = await runCliAt('pipe', 'golden', 'check', dir);
    expect(pipe.code).toBe(0);
    expect(pipe.err).toBe('');
  });
});
