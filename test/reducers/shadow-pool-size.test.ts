/**
 * The shadow pool's size: with no shadowPoolPages in the cost model, a
 * shadow run's pool is what Xen's toolstack gives the domain by default,
 * libxl__get_required_paging_memory (tools/libs/light/libxl_create.c):
 *
 *   4 * (256 * smp_cpus + ((type != PV) + !hap) * (maxmem_kb / 1024)) KiB
 *
 * less, for an HVM guest, the pages Xen takes from the same pool for the
 * guest's P2M tables (xen/arch/x86/mm/shadow/common.c shadow_alloc_p2m_page,
 * shadow_set_allocation). The expected values below are worked out from
 * that formula and from counting the P2M's 4-level tables by hand (one L2
 * maps 1 GiB, one L3 512 GiB; without HAP p2m_set_entry maps 2 MiB at most,
 * so with 2 MiB host pages there are no L1 tables but for a tail short of
 * 2 MiB, and with 4 KiB host pages one L1 per 2 MiB). A cost model that sets
 * shadowPoolPages wins over the default, and run traces recorded with the
 * old fixed 1,024 pages keep them.
 */
import { describe, expect, it } from 'vitest';
import { DEFAULT_COSTS } from '../../src/model/cost-model.js';
import { costModelWith } from '../../src/model/cost-model-file.js';
import type { GuestType } from '../../src/model/paging.js';
import { runSpecOf } from '../../src/api/record-run.js';
import { DEFAULT_MIGRATION } from '../../src/reducers/migration/migration-options.js';
import { runSpecProblem } from '../../src/api/run-spec-schema.js';
import type { P2mPageSize } from '../../src/reducers/tracker.js';
import { workloadHeader } from '../../src/api/record.js';
import type { TraceHeader } from '../../src/trace/trace-records.js';
import { ScriptedRun } from '../helpers/tracker-sim.js';

const PAGES_PER_MIB = 256;

/** The shadow tracker's pool for a guest, read from its stats (what a run reports). */
function poolOf(type: GuestType, memMiB: number, vcpus: number, p2m: P2mPageSize = '2m', costs = DEFAULT_COSTS): number {
  const sim = new ScriptedRun({ guest: { type, paging: 'x86-64', memPages: memMiB * PAGES_PER_MIB, vcpus }, seed: 7, tracker: 'shadow', superpages: 'split', p2m, costs });
  return sim.tracker.stats()['shadowPoolPages']!;
}

/** libxl's figure in KiB, written out as in libxl__get_required_paging_memory for a shadow (non-HAP) domain. */
const libxlKiB = (memMiB: number, vcpus: number, type: GuestType) => 4 * (256 * vcpus + ((type !== 'pv' ? 1 : 0) + 1) * memMiB);

describe("the shadow pool's default is libxl's paging pool for the guest", () => {
  it.each([
    // [MiB, vCPUs, P2M tables with 2 MiB host pages: L4 + L3 + L2 + L1 (a tail short of 2 MiB)]
    [256, 2, 1 + 1 + 1 + 0],
    [1024, 2, 1 + 1 + 1 + 0],
    [4096, 2, 1 + 1 + 4 + 0],
    [4096, 8, 1 + 1 + 4 + 0],
    [3, 1, 1 + 1 + 1 + 1],
  ])('an HVM guest of %i MiB and %i vCPUs gets 4 * (256 V + 2 N) KiB less its P2M tables (%i pages)', (memMiB, vcpus, p2mTables) => {
    expect(libxlKiB(memMiB, vcpus, 'hvm') % 4).toBe(0);
    expect(poolOf('hvm', memMiB, vcpus)).toBe(libxlKiB(memMiB, vcpus, 'hvm') / 4 - p2mTables);
  });

  it('with 4 KiB host pages the P2M needs an L1 table per 2 MiB, taken from the same pool', () => {
    // 1 GiB: 512 L1 + 1 L2 + 1 L3 + 1 L4.
    expect(poolOf('hvm', 1024, 2, '4k')).toBe(libxlKiB(1024, 2, 'hvm') / 4 - (512 + 3));
    // 1 GiB host pages change nothing: without HAP Xen maps 2 MiB at most.
    expect(poolOf('hvm', 1024, 2, '1g')).toBe(poolOf('hvm', 1024, 2, '2m'));
  });

  it("a PV guest's pool is 4 * (256 V + N) KiB: no P2M page in the pool, and the page per MiB for the P2M is an HVM one", () => {
    expect(poolOf('pv', 1024, 2)).toBe(libxlKiB(1024, 2, 'pv') / 4);
    expect(poolOf('pv', 1024, 2)).toBe(256 * 2 + 1024);
  });

  it("libxl's default is above Xen's floor (shadow_min_acceptable_pages: 128 pages a vCPU, plus the P2M's)", () => {
    for (const [memMiB, vcpus] of [[3, 1], [256, 8], [4096, 64]] as const) {
      expect(poolOf('hvm', memMiB, vcpus)).toBeGreaterThan(128 * vcpus);
    }
  });
});

describe("the cost model's shadowPoolPages overrides the default", () => {
  it('an explicit pool wins, smaller or larger than the default', () => {
    expect(poolOf('hvm', 1024, 2, '2m', costModelWith({ shadowPoolPages: 777 }))).toBe(777);
    expect(poolOf('hvm', 256, 2, '2m', costModelWith({ shadowPoolPages: 100_000 }))).toBe(100_000);
    expect(poolOf('pv', 256, 2, '2m', costModelWith({ shadowPoolPages: 64 }))).toBe(64);
  });

  const header = (costs: Record<string, unknown>): TraceHeader => ({
    ...workloadHeader({ workload: 'muncher', seed: 1, durationNs: 1e9, memBytes: 2 ** 30 }),
    traceKind: 'run',
    run: { tracker: 'shadow', superpages: 'split', p2m: '2m', costs, migration: { ...DEFAULT_MIGRATION } },
  });

  it('a run trace that recorded the old fixed pool replays with it; one that recorded none gets the default', () => {
    const old = runSpecOf(header({ ...DEFAULT_COSTS, shadowPoolPages: 1024 }), 'old.mst');
    expect(old.costs.shadowPoolPages).toBe(1024);
    const now = runSpecOf(header({ ...DEFAULT_COSTS }), 'new.mst');
    expect(now.costs.shadowPoolPages).toBeUndefined();
  });

  it('a recorded pool too small for one walk per vCPU is a bad header; the default never is', () => {
    expect(runSpecProblem(header({ shadowPoolPages: 5 }))).toMatch(/run\.costs: a shadow pool of 5 pages holds fewer than the 6 shadows a 2-vCPU guest needs/);
    expect(runSpecProblem(header({}))).toBeUndefined();
  });
});
