// `migsim golden check` says what to do: a trace with no summary fails,
// writes nothing, and names the command that writes it; an empty or
// missing directory says how to start one; a failure ends with how to
// accept an intended change. `--json` gives scripts every case's outcome.
import { appendFileSync, existsSync, mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { recordSmallHotSet, recordSmallHotSetRun } from '../helpers/small-trace.js';
import { tempDir } from '../helpers/temp-dir.js';
import { runCli } from './cli-run.js';

const root = tempDir('migsim-golden-cmd-');
const dir = join(root, 'golden');

beforeAll(async () => {
  mkdirSync(dir);
  await recordSmallHotSetRun(join(dir, 'hs-hap.mst'), 'hap');
});

describe('golden check', () => {
  it('a trace with no summary fails, writes nothing, and says to write it with golden update', async () => {
    const r = await runCli('golden', 'check', dir);
    expect(r.code).toBe(1);
    expect(r.out).toContain(`FAIL hs-hap\n     ${join(dir, 'hs-hap.summary.txt')}: missing (the summary this trace must replay to): write it with migsim golden update ${dir}, review it, and commit it with the trace\n`);
    expect(r.out).not.toContain('written');
    expect(existsSync(join(dir, 'hs-hap.summary.txt'))).toBe(false);
  });

  it('--json: one object with every case, its differences and whether it passed; exit 1 on any failure, 0 when all pass', async () => {
    const failing = await runCli('golden', 'check', dir, '--json');
    expect(failing.code).toBe(1);
    const j = JSON.parse(failing.out);
    expect(j).toMatchObject({ dir, ok: false, cases: [{ name: 'hs-hap', trace: join(dir, 'hs-hap.mst'), summary: join(dir, 'hs-hap.summary.txt'), ok: false }] });
    expect(j.cases[0].differences[0]).toMatch(/missing/);

    const update = await runCli('golden', 'update', dir, '--json');
    expect(update.code).toBe(0);
    expect(JSON.parse(update.out)).toMatchObject({ dir, cases: [{ name: 'hs-hap', changed: true }] });

    const passing = await runCli('golden', 'check', dir, '--json');
    expect(passing.code).toBe(0);
    expect(JSON.parse(passing.out)).toEqual({ dir, ok: true, cases: [{ name: 'hs-hap', trace: join(dir, 'hs-hap.mst'), summary: join(dir, 'hs-hap.summary.txt'), ok: true, differences: [] }] });
    expect(passing.err).toBe('');
  });

  it('a difference is shown, and the run ends with how to accept an intended change', async () => {
    const scratch = join(root, 'changed');
    mkdirSync(scratch);
    await recordSmallHotSetRun(join(scratch, 'hs.mst'), 'hap');
    expect((await runCli('golden', 'update', scratch)).code).toBe(0);
    appendFileSync(join(scratch, 'hs.summary.txt'), 'extra: 1\n');
    const r = await runCli('golden', 'check', scratch);
    expect(r.code).toBe(1);
    expect(r.out).toContain('FAIL hs\n');
    expect(r.out).toMatch(/hs\.summary\.txt:\d+ - extra: 1/);
    expect(r.out).toContain(`1 of 1 golden traces differ. If the change is intended, re-derive them with migsim golden update ${scratch}`);
  });

  it('an empty directory, a missing one, or a file says how to start a set of golden traces', async () => {
    const empty = join(root, 'empty');
    mkdirSync(empty);
    const none = await runCli('golden', 'check', empty);
    expect(none.code).toBe(2);
    expect(none.err).toContain(`no golden traces (*.mst) in ${empty}: record a run with migsim run <workload> --tracker <tracker> --seed <n> --record ${empty}/NAME.mst, then write its summary with migsim golden update ${empty}`);
    rmSync(empty, { recursive: true });
    expect((await runCli('golden', 'check', empty)).err).toContain(`${empty}: no such directory; to start a set of golden traces there, create it, then record a run`);
    expect((await runCli('golden', 'check', join(dir, 'hs-hap.mst'))).err).toContain('hs-hap.mst: not a directory: give the directory that holds the golden *.mst traces');
  });

  it('a workload trace among the golden traces fails, saying a golden trace is a run', async () => {
    const mixed = join(root, 'mixed');
    mkdirSync(mixed);
    await recordSmallHotSet(join(mixed, 'w.mst'));
    const r = await runCli('golden', 'check', mixed);
    expect(r.code).toBe(1);
    expect(r.out).toContain('w.mst is a workload trace, not a run trace: a golden trace is a run (record one with migsim run <workload> --tracker <tracker> --record');
  });
});
