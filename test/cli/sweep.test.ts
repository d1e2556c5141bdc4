// A sweep's table is the runs' `run --json` results, row for row, and the
// same table whatever runs it: one thread or two, one process or three
// shards merged, or a sweep killed midway and run again (which then runs
// only the runs it had not finished). Sweeps run as the built CLI (worker
// threads load dist/); the single runs they are checked against run
// in-process through main().
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCli } from './cli-run.js';
import { spawnCli, waitFor } from '../helpers/spawn-cli.js';
import { tempDir } from '../helpers/temp-dir.js';
import { runRow } from '../../src/sweep/run-row.js';
import { loadGridRuns } from '../../src/cli/commands/sweep-command.js';

const dir = tempDir('migsim-sweep-');

// 2 seeds x 3 trackers x 2 bandwidths: a random muncher, so seeds differ.
const GRID = `run:
  workload: muncher
  duration: 600ms
  mem: 128MiB
  set: {rate: 30000, pattern: random}
axes:
  seed: [3, 4]
  tracker: [hap, pml, shadow]
  bandwidth: [1Gbit, 10Gbit]
`;
const gridPath = join(dir, 'grid.yaml');
writeFileSync(gridPath, GRID);

/** A merged table's rows (JSON lines). */
async function mergedRows(results: string, name: string): Promise<Record<string, unknown>[]> {
  const out = join(dir, `${name}.jsonl`);
  const m = await runCli('sweep', 'merge', results, '-o', out);
  expect(m.code, m.err).toBe(0);
  return readFileSync(out, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}

async function sweep(...args: string[]): Promise<{ code: number | null; out: string; err: string }> {
  return spawnCli(dir, 'sweep', gridPath, ...args).done;
}

describe('migsim sweep', () => {
  let single: Record<string, unknown>[] = [];

  it('a 2 x 3 x 2 grid gives 12 rows whose figures equal the 12 single `run --json` results', async () => {
    const r = await sweep('-o', join(dir, 'one'), '--jobs', '1', '--json');
    expect(r.code, r.err).toBe(0);
    expect(JSON.parse(r.out)).toMatchObject({ runs: 12, ran: 12, skipped: 0, failed: 0 });
    single = await mergedRows(join(dir, 'one'), 'one');
    expect(single).toHaveLength(12);
    const runs = loadGridRuns(gridPath);
    for (const run of runs) {
      const cli = await runCli('run', ...run.argv, '--json');
      expect(cli.code, cli.err).toBe(0);
      const expected = runRow(run.id, run.index, run.params, JSON.parse(cli.out));
      // The table's columns are the union over its rows: another tracker's exit kinds are null here.
      expect(withoutNulls(single[run.index]!)).toEqual(withoutNulls(expected));
    }
    // The axes are varied as asked: 12 distinct runs, the last axis fastest.
    expect(new Set(single.map((x) => x['id'])).size).toBe(12);
    expect(single.slice(0, 3).map((x) => [x['param_seed'], x['param_tracker'], x['param_bandwidth']])).toEqual([
      [3, 'hap', 125_000_000],
      [3, 'hap', 1_250_000_000],
      [3, 'pml', 125_000_000],
    ]);
  });

  it('two worker threads give the same table, byte for byte', async () => {
    const r = await sweep('-o', join(dir, 'two'), '--jobs', '2');
    expect(r.code, r.err).toBe(0);
    expect(readFileSync(join(dir, 'two', 'runs-0-of-1.parquet')).equals(readFileSync(join(dir, 'one', 'runs-0-of-1.parquet')))).toBe(true);
  });

  it('shards 0/3, 1/3 and 2/3, run as separate processes and merged, give the same table row for row', async () => {
    const out = join(dir, 'sharded');
    const shards = await Promise.all(['0/3', '1/3', '2/3'].map((s) => sweep('-o', out, '--jobs', '1', '--shard', s, '--json')));
    const counts = shards.map((s) => {
      expect(s.code, s.err).toBe(0);
      return (JSON.parse(s.out) as { runs: number }).runs;
    });
    // Every run in exactly one shard, none of them empty.
    expect(counts.reduce((a, b) => a + b, 0)).toBe(12);
    expect(Math.min(...counts)).toBeGreaterThan(0);
    expect(await mergedRows(out, 'sharded')).toEqual(single);
  });

  it('the shard comes from Slurm array variables when --shard is not given', async () => {
    const { done } = spawnCliEnv({ SLURM_ARRAY_TASK_ID: '1', SLURM_ARRAY_TASK_COUNT: '3', SLURM_ARRAY_TASK_MIN: '0' }, 'sweep', gridPath, '-o', join(dir, 'slurm'), '--dry-run', '--json');
    const viaEnv = await done;
    const viaFlag = await runCli('sweep', gridPath, '-o', join(dir, 'slurm'), '--dry-run', '--json', '--shard', '1/3');
    expect(viaEnv.code, viaEnv.err).toBe(0);
    expect(JSON.parse(viaEnv.out)).toEqual(JSON.parse(viaFlag.out));
  });

  it('a sweep killed midway and run again finishes with the same table, running only the missing runs', async () => {
    const out = join(dir, 'killed');
    const journal = join(out, 'journal-0-of-1.jsonl');
    const { child, done } = spawnCli(dir, 'sweep', gridPath, '-o', out, '--jobs', '1');
    const lines = () => {
      try {
        return readFileSync(journal, 'utf8').split('\n').filter(Boolean).length;
      } catch {
        return 0;
      }
    };
    expect(await waitFor(() => lines() >= 4, 120_000)).toBe(true);
    child.kill('SIGKILL');
    await done;
    // Complete lines only: one cut short by the kill is run again.
    const finished = readFileSync(journal, 'utf8')
      .split('\n')
      .filter((l) => {
        try {
          JSON.parse(l);
          return true;
        } catch {
          return false;
        }
      }).length;
    expect(finished).toBeGreaterThanOrEqual(4);
    expect(finished).toBeLessThan(12);
    const again = await sweep('-o', out, '--jobs', '2', '--json');
    expect(again.code, again.err).toBe(0);
    expect(JSON.parse(again.out)).toMatchObject({ runs: 12, ran: 12 - finished, skipped: finished });
    expect(await mergedRows(out, 'killed')).toEqual(single);
    // A third time: nothing left to run.
    const third = await sweep('-o', out, '--json');
    expect(JSON.parse(third.out)).toMatchObject({ ran: 0, skipped: 12 });
  });

  it('results of another program version are refused, not mixed', async () => {
    const out = join(dir, 'one');
    writeFileSync(join(out, 'sweep.json'), JSON.stringify({ program: 'migsim 0.0.9' }));
    const r = await runCli('sweep', gridPath, '-o', out);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/made by migsim 0\.0\.9, and this is migsim .*not mixed/);
    const q = await runCli('sweep', 'query', out, 'SELECT 1');
    expect(q.code).toBe(2);
  });

  it('report --sweep draws downtime and total time against the numeric axis, one line per tracker, and lists every run, with no script', async () => {
    const html = join(dir, 'sweep.html');
    const r = await runCli('report', '--sweep', join(dir, 'two'), '-o', html, '--json');
    expect(r.code, r.err).toBe(0);
    expect(JSON.parse(r.out)).toMatchObject({ runs: 12, axes: { numeric: ['param_bandwidth'], series: ['param_tracker'] } });
    const text = readFileSync(html, 'utf8');
    expect(text.match(/data-chart="[^"]+"/g)).toEqual(['data-chart="downtimeNs-bandwidth"', 'data-chart="totalNs-bandwidth"']);
    // Each tracker is a line of its own in the legend.
    for (const t of ['hap', 'pml', 'shadow']) expect(text).toMatch(new RegExp(`<text[^>]*>${t}</text>`));
    const runsTable = text.slice(text.indexOf('<section id="runs">'));
    expect(runsTable.match(/<tr>/g)).toHaveLength(13);
    expect(text).not.toMatch(/<script|https?:\/\/(?!vega\.github\.io|www\.w3\.org)/);
  });

  it('sweep query answers SQL over the runs view', async () => {
    const r = await runCli('sweep', 'query', join(dir, 'two'), 'SELECT param_tracker AS t, count(*) AS n FROM runs GROUP BY 1 ORDER BY 1', '--json');
    expect(r.code, r.err).toBe(0);
    expect(JSON.parse(r.out)).toEqual([
      { t: 'hap', n: 4 },
      { t: 'pml', n: 4 },
      { t: 'shadow', n: 4 },
    ]);
  });
});

function withoutNulls(row: Readonly<Record<string, unknown>>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(row).filter(([, v]) => v !== null));
}

function spawnCliEnv(env: Record<string, string>, ...args: string[]) {
  const saved = { ...process.env };
  Object.assign(process.env, env);
  try {
    return spawnCli(dir, ...args);
  } finally {
    for (const k of Object.keys(env)) if (saved[k] === undefined) delete process.env[k];
  }
}
