// Checks that inspect --mmu shows the MMU's figures for a trace whose guest
// writes page tables (and that plain inspect, which counts without the MMU,
// leaves them out): a PAE PV boot ends with page-table pages per level and
// leaf A/D/RW shares in seed 000's range (341 L1, 71 L2, 19 L3; 70-80%).
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { tempDir } from '../helpers/temp-dir.js';
import { runCli } from './cli-run.js';

const dir = tempDir();

describe('inspect on an MMU trace', () => {
  it('a PAE PV boot shows page-table pages per level and A/D/RW shares like seed 000', async () => {
    const file = join(dir, 'boot.mst');
    expect((await runCli('record', 'boot', '--guest', 'pv', '--paging', 'pae', '-o', file, '--seed', '1', '--duration', '4s')).code).toBe(0);
    const j = JSON.parse((await runCli('inspect', file, '--mmu', '--json')).out);
    const [l1, l2, l3] = j.mmu.levels.map((l: { ptPages: number }) => l.ptPages);
    expect(l1).toBeGreaterThan(300);
    expect(l1).toBeLessThan(400);
    expect(l2).toBeGreaterThan(60);
    expect(l2).toBeLessThan(85);
    expect(l3).toBe(19);
    const adrw = j.mmu.leafEntriesAccessedDirtyWritable / j.mmu.leafSlots;
    expect(adrw).toBeGreaterThan(0.7);
    expect(adrw).toBeLessThan(0.8);
    expect(j.mmu.faults).toBe(0);
    const text = (await runCli('inspect', file, '--mmu')).out;
    expect(text).toMatch(/page-table pages: \d+ L1, \d+ L2, 19 L3/);
    expect(text).toMatch(/processes created \d+, exited \d+/);
    const plain = JSON.parse((await runCli('inspect', file, '--json')).out);
    expect(plain.mmu).toBeUndefined();
    expect(plain.distinctPages).toEqual(j.distinctPages);
    expect(plain.guestEventsByKind).toEqual(j.guestEventsByKind);
  });

  it('a trace without page tables has no mmu section', async () => {
    const file = join(dir, 'hs.mst');
    await runCli('record', 'hot-set', '-o', file, '--seed', '1', '--duration', '10ms', '--mem', '16MiB');
    expect(JSON.parse((await runCli('inspect', file, '--mmu', '--json')).out).mmu).toBeUndefined();
  });
});
