// A bitmap sync costs time (migration/ram.c migration_bitmap_sync; accel/kvm/kvm-all.c
// kvm_physical_sync_dirty_bitmap; xen/arch/x86/mm/paging.c paging_log_dirty_op):
// QEMU's migration thread waits for the log-dirty op, then passes over every
// word of the bitmap, and sends nothing meanwhile. Each sync is a
// `bitmap_sync` run event with that cost, and the next step comes after it,
// so a threshold measured from a window of zero pages (a few bytes each)
// cannot make the thread sync faster than one sync per sync's cost.
import { describe, expect, it } from 'vitest';
import { runMigration } from '../../src/api/run-migration.js';
import { runEventCostNs } from '../../src/events/run-cost.js';
import { RunEventKind } from '../../src/events/run-event-kind.js';
import type { RunBatch } from '../../src/events/run-batch.js';
import { DEFAULT_COSTS } from '../../src/model/cost-model.js';
import type { WorkloadDefinition } from '../../src/workloads/workload.js';
import { config, customSource } from '../helpers/custom-source.js';

/** 64 MiB: two 32,768-page stretches of Xen's bitmap would be 128 MiB; this is one. */
const M = 16_384;

/**
 * Memory never written (every page a zero page), and one page rewritten
 * every 10 us. The first pass is 16,384 headers of 8 bytes: the bandwidth
 * measured over its window is about 1.3 MB/s, and with a 1 ms downtime
 * limit the threshold (bandwidth x limit) is below one page, so the one
 * page the guest keeps dirtying never fits it: send it, sync, find it dirty
 * again, for as long as the guest writes (QEMU does the same: pending below
 * the threshold syncs, pending at or above it sends).
 */
const onePageWriter: WorkloadDefinition = {
  name: 'test-one-page-writer',
  description: 'rewrites one page of a never-written guest',
  usesMmu: false,
  params: [],
  generate(c, out) {
    for (let t = 10_000; t <= c.durationNs; t += 10_000) out.physWrite(t, 0, 5, 8);
  },
};

interface Sync {
  atNs: number;
  costNs: number;
  dirty: number;
}

function run(costs = DEFAULT_COSTS, memPages = M): { syncs: Sync[]; cleanCostsNs: number[]; summary: ReturnType<typeof runMigration> } {
  const syncs: Sync[] = [];
  const cleanCostsNs: number[] = [];
  const summary = runMigration(
    customSource(onePageWriter, config(memPages, 400e6)),
    { tracker: 'hap', p2m: '4k', costs, migration: { policy: 'qemu', startNs: 1e6, downtimeLimitNs: 1e6 } },
    (b: RunBatch) => {
      let t = b.baseNs;
      for (let i = 0; i < b.count; i++) {
        t += b.dtNs[i]!;
        if (b.kind[i] === RunEventKind.bitmapSync) syncs.push({ atNs: t, costNs: runEventCostNs(b, i), dirty: b.arg[i]! });
        if (b.kind[i] === RunEventKind.clean) cleanCostsNs.push(runEventCostNs(b, i));
      }
    },
  );
  return { syncs, cleanCostsNs, summary };
}

describe('a bitmap sync costs time', () => {
  it("a sync's cost appears as a run event with its cost, and the number of syncs per second is bounded by it", () => {
    const { syncs, cleanCostsNs, summary } = run();
    expect(summary.outcome).toBe('completed');
    // The CLEAN domctl: its base and one 4 KiB stretch of bitmap (64 MiB is under 32,768 pages).
    const opNs = DEFAULT_COSTS.logDirtyOpBaseNs + DEFAULT_COSTS.cleanPerLeafNs;
    // The thread's own pass: 16,384 pages are 256 words.
    const scanNs = (M / 64) * DEFAULT_COSTS.syncScanPerWordNs;
    // The setup sync (ENABLE's op, base only), one per CLEAN, and the last
    // one in stop-and-copy (the FINAL, which costs what a CLEAN does here).
    expect(syncs.length).toBe(cleanCostsNs.length + 2);
    expect(syncs[0]!.costNs).toBe(DEFAULT_COSTS.logDirtyOpBaseNs + scanNs);
    for (const c of cleanCostsNs) expect(c).toBe(opNs);
    for (const s of syncs.slice(1)) expect(s.costNs).toBe(opNs + scanNs);
    const live = syncs.slice(0, -1);
    // The storm the threshold invites is there (one-page syncs), but each
    // sync starts only after the one before it is over.
    expect(live.slice(1).filter((s) => s.dirty === 1).length).toBeGreaterThan(100);
    for (let i = 1; i < syncs.length; i++) expect(syncs[i]!.atNs - syncs[i - 1]!.atNs).toBeGreaterThanOrEqual(syncs[i - 1]!.costNs);
    const firstNs = live[0]!.atNs;
    const spanNs = live.at(-1)!.atNs - firstNs;
    expect(live.length - 1).toBeLessThanOrEqual(Math.floor(spanNs / (opNs + scanNs)) + 1);
    // The summary counts them (the setup sync, every CLEAN, the FINAL) and their time.
    expect(summary.dirtySyncNs).toBe(syncs.reduce((a, s) => a + s.costNs, 0));
    expect(summary.dirtySyncCount).toBe(syncs.length);
  });

  it('the cost grows with guest memory: words scanned and bitmap stretches copied', () => {
    const big = 4 * 32_768 + 1; // five stretches of Xen's bitmap, 2,049 words
    const { syncs } = run(DEFAULT_COSTS, big);
    const opNs = DEFAULT_COSTS.logDirtyOpBaseNs + 5 * DEFAULT_COSTS.cleanPerLeafNs;
    expect(syncs.length).toBeGreaterThan(1);
    for (const s of syncs.slice(1)) expect(s.costNs).toBe(opNs + 2_049 * DEFAULT_COSTS.syncScanPerWordNs);
  });
});
