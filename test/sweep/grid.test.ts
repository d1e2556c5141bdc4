// A grid file's runs: ranges as the flags read them, zip and exclude, a
// bad value reported at its line, and shards that partition the grid.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCli } from '../cli/cli-run.js';
import { tempDir } from '../helpers/temp-dir.js';
import { parseGridFile, GridError } from '../../src/sweep/grid-file.js';
import { expandGrid } from '../../src/sweep/grid-expand.js';
import { shardIndices } from '../../src/sweep/shard-partition.js';
import { sweepRuns } from '../../src/cli/sweep/sweep-runs.js';

const dir = tempDir('migsim-grid-');
const points = (text: string) => expandGrid(parseGridFile('g.yaml', text)).map((p) => Object.fromEntries([...p.values].map(([k, v]) => [k, v.text])));

describe('grid files', () => {
  it('a log range of 3 steps from 50ms to 5s is 50ms, 500ms and 5s (in ns), the ends exact', () => {
    const ps = points('run: {workload: idle, tracker: hap}\naxes:\n  downtimeLimit: {from: 50ms, to: 5s, steps: 3, scale: log}\n');
    expect(ps.map((p) => p['downtimeLimit'])).toEqual(['50000000ns', '500000000ns', '5000000000ns']);
  });

  it('zipped axes step together, excluded combinations are left out, the last axis steps fastest', () => {
    const ps = points(`run: {workload: idle}
axes:
  tracker: [hap, shadow]
  bandwidth: [1Gbit, 10Gbit]
  downtime-limit: [300ms, 30ms]
  seed: {count: 2, from: 7}
zip: [[bandwidth, downtime-limit]]
exclude:
  - {tracker: shadow, bandwidth: 10 Gbit}
`);
    // 2 trackers x 2 zipped pairs x 2 seeds = 8, less shadow at 10Gbit (2 seeds).
    expect(ps).toHaveLength(6);
    expect(ps.map((p) => `${p['tracker']} ${p['bandwidth']} ${p['downtimeLimit']} ${p['seed']}`)).toEqual([
      'hap 1Gbit 300ms 7',
      'hap 1Gbit 300ms 8',
      'hap 10Gbit 30ms 7',
      'hap 10Gbit 30ms 8',
      'shadow 1Gbit 300ms 7',
      'shadow 1Gbit 300ms 8',
    ]);
  });

  it('a structural mistake names its line', () => {
    expect(() => parseGridFile('g.yaml', 'run:\n  workload: idle\naxes:\n  bandwidth: {from: 1Gbit}\n')).toThrow(/^g\.yaml:4: /);
    expect(() => parseGridFile('g.yaml', 'run:\n  workload: idle\nbogus: 1\n')).toThrow(GridError);
  });

  it('a value run rejects is bad input (exit 2) at the line of the value', async () => {
    const path = join(dir, 'bad.yaml');
    writeFileSync(path, 'run:\n  workload: idle\n  duration: 1s\naxes:\n  tracker: [hap, pml]\n  bandwidth: [1Gbit, 1Gbt]\n');
    const r = await runCli('sweep', path, '-o', join(dir, 'out'));
    expect(r.code).toBe(2);
    expect(r.err).toMatch(new RegExp(`^migsim: ${path.replace(/[.]/g, '\\.')}:6: .*1Gbt`));
    const pv = join(dir, 'pv.yaml');
    writeFileSync(pv, 'run:\n  workload: idle\n  duration: 1s\n  guest: pv\naxes:\n  tracker: [shadow, hap]\n');
    const p = await runCli('sweep', pv, '-o', join(dir, 'out'));
    expect(p.code).toBe(2);
    expect(p.err).toMatch(/pv\.yaml:6: tracker 'hap' needs an HVM guest/);
  });

  it('each point is parsed from the defaults: a flag, a switch or a --set of one point never reaches the next', () => {
    // One commander Command parses every point (sweep-runs.ts): commander
    // restores its defaults before each parse; this holds it to that.
    const grid = `run: {workload: muncher, duration: 1s, tracker: hap, policy: qemu}
axes:
  autoConverge: [true, false]
  set.rate: [7, 9]
zip: [[autoConverge, set.rate]]
`;
    const ps = expandGrid(parseGridFile('g.yaml', grid));
    const reversed = sweepRuns('g.yaml', [...ps].reverse());
    const runs = sweepRuns('g.yaml', ps);
    expect(runs.map((r) => [r.opts.autoConverge ?? false, r.opts.set])).toEqual([
      [true, { rate: '7' }],
      [false, { rate: '9' }],
    ]);
    // The same point gives the same run whatever was parsed before it.
    expect(reversed.map((r) => r.id).reverse()).toEqual(runs.map((r) => r.id));
    // A point that gives no --set has none, after one that did.
    const [withSet, without] = sweepRuns('g.yaml', expandGrid(parseGridFile('g.yaml', 'run: {workload: muncher, duration: 1s, tracker: hap, policy: qemu}\naxes:\n  set.rate: [7]\n')).concat(expandGrid(parseGridFile('g.yaml', 'run: {workload: muncher, duration: 1s, tracker: hap, policy: qemu}\n'))));
    expect(withSet!.opts.set).toEqual({ rate: '7' });
    expect(without!.opts.set).toBeUndefined();
  });

  it('shards partition the runs: each in exactly one shard, costs balanced within the largest run', () => {
    const items = Array.from({ length: 50 }, (_, i) => ({ index: i, guestKey: `g${i % 7}`, cost: 1 + (i % 3), guestCost: 4 }));
    for (const n of [1, 2, 3, 8]) {
      const shards = Array.from({ length: n }, (_, k) => shardIndices(items, { k, n }));
      expect(shards.flat().sort((a, b) => a - b)).toEqual(items.map((x) => x.index));
      // Same answer computed again (every machine computes it alone).
      expect(Array.from({ length: n }, (_, k) => shardIndices(items, { k, n }))).toEqual(shards);
    }
    // Seven guests over two shards: whole guests, loads within one guest's cost.
    const two = [0, 1].map((k) => shardIndices(items, { k, n: 2 }));
    const load = (ix: number[]) => ix.reduce((a, i) => a + items[i]!.cost, 0) + new Set(ix.map((i) => items[i]!.guestKey)).size * 4;
    const groupCost = Math.max(...[...new Set(items.map((x) => x.guestKey))].map((g) => 4 + items.filter((x) => x.guestKey === g).reduce((a, x) => a + x.cost, 0)));
    expect(Math.abs(load(two[0]!) - load(two[1]!))).toBeLessThanOrEqual(groupCost);
  });
});
