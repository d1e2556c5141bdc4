// The toolstack walks its whole dirty bitmap to find what to send, and the
// thread that walks sends nothing meanwhile (src/reducers/migration/bitmap-walk.ts):
// - Xen's save walks every pfn of the p2m on every pass
//   (tools/libs/guest/xg_sr_save.c send_dirty_pages: test_bit over
//   0..p2m_size; send_all_pages for the first pass), after waiting for the
//   CLEAN hypercall (send_memory_live -> xc_logdirty_control);
// - the last walk is made with the guest stopped, so it is downtime: QEMU's
//   ram_save_complete -> migration_bitmap_sync_precopy, Xen's
//   suspend_and_send_dirty -> send_dirty_pages.
// Each walk is `syncScanPerWordNs` per 64-page word, and is in a
// `bitmap_sync` run event with the op it waited for.
import { describe, expect, it } from 'vitest';
import { runMigration } from '../../src/api/run-migration.js';
import { runEventCostNs } from '../../src/events/run-cost.js';
import { RunEventKind } from '../../src/events/run-event-kind.js';
import type { RunBatch } from '../../src/events/run-batch.js';
import { DEFAULT_COSTS } from '../../src/model/cost-model.js';
import { config, customSource, sequentialWriter } from '../helpers/custom-source.js';

/** 128 MiB: 32,768 pages, 512 words of bitmap. */
const M = 32_768;
const WALK_NS = (M / 64) * DEFAULT_COSTS.syncScanPerWordNs;

interface Ev {
  kind: number;
  atNs: number;
  page: number;
  arg: number;
  costNs: number;
}

function run(policy: 'xen' | 'xen-legacy' | 'qemu') {
  const events: Ev[] = [];
  // Every page written first, then 2,000 pages/s over 4,096: each CLEAN finds dirty pages.
  const summary = runMigration(customSource(sequentialWriter(2_000, 4_096), config(M, 3e9)), { tracker: 'hap', p2m: '4k', migration: { policy, startNs: 10e6 } }, (b: RunBatch) => {
    let t = b.baseNs;
    for (let i = 0; i < b.count; i++) {
      t += b.dtNs[i]!;
      const k = b.kind[i]!;
      if (k === RunEventKind.bitmapSync || k === RunEventKind.clean || k === RunEventKind.final || k === RunEventKind.pagesSent || k === RunEventKind.roundStart || k === RunEventKind.suspend) {
        events.push({ kind: k, atNs: t, page: b.page[i]!, arg: b.arg[i]!, costNs: runEventCostNs(b, i) });
      }
    }
  });
  return { events, summary };
}

const of = (events: Ev[], kind: number) => events.filter((e) => e.kind === kind);

describe("the toolstack's walk of its bitmap", () => {
  it("xen walks the whole bitmap at every pass: the first costs the walk, each later one the CLEAN it waited for and the walk, and the pass's first batch goes after it", () => {
    for (const policy of ['xen', 'xen-legacy'] as const) {
      const { events, summary } = run(policy);
      expect(summary.outcome, policy).toBe('completed');
      const syncs = of(events, RunEventKind.bitmapSync);
      const cleans = of(events, RunEventKind.clean);
      const final = of(events, RunEventKind.final);
      expect(final.length, policy).toBe(1);
      // One walk per live pass (the first, then one per CLEAN) and the last one in the downtime.
      expect(syncs.length, policy).toBe(1 + cleans.length + 1);
      expect(cleans.length, policy).toBeGreaterThan(0);
      expect(syncs[0]!.costNs, policy).toBe(WALK_NS);
      expect(syncs[0]!.arg, policy).toBe(0);
      cleans.forEach((c, i) => {
        const s = syncs[i + 1]!;
        expect(s.atNs, policy).toBe(c.atNs);
        expect(s.costNs, policy).toBe(c.costNs + WALK_NS);
        // Nothing is sent while the thread waits and walks.
        const next = events.find((e) => e.kind === RunEventKind.pagesSent && e.atNs >= s.atNs)!;
        expect(next.atNs, policy).toBeGreaterThanOrEqual(s.atNs + s.costNs);
      });
      const firstSend = events.find((e) => e.kind === RunEventKind.pagesSent)!;
      expect(firstSend.atNs, policy).toBeGreaterThanOrEqual(syncs[0]!.atNs + WALK_NS);
      // The summary's sync time is the sum of the walks and the ops waited for.
      expect(summary.dirtySyncNs, policy).toBe(syncs.reduce((a, s) => a + s.costNs, 0));
    }
  });

  it('the last walk is downtime, for xen and for qemu: the final clean is the FINAL op and one walk of the bitmap', () => {
    for (const policy of ['xen', 'qemu'] as const) {
      const { events, summary } = run(policy);
      expect(summary.outcome, policy).toBe('completed');
      const final = of(events, RunEventKind.final)[0]!;
      const suspend = of(events, RunEventKind.suspend)[0]!;
      const last = of(events, RunEventKind.bitmapSync).at(-1)!;
      expect(last.atNs, policy).toBe(suspend.atNs + DEFAULT_COSTS.suspendNs);
      expect(last.costNs, policy).toBe(final.costNs + WALK_NS);
      expect(summary.downtime.finalCleanNs, policy).toBe(final.costNs + WALK_NS);
      const d = summary.downtime;
      expect(summary.downtimeNs, policy).toBe(d.suspendNs + d.finalCleanNs + d.finalPagesNs + d.canonicaliseNs + d.stateNs + d.resumeNs);
    }
  });
});
