// How QEMU counts its syncs and their dirt, and how long a looped Remus ran:
// - a sync's new dirt is the bits new to the migration bitmap
//   (migration/ram.c -> include/exec/ram_addr.h
//   cpu_physical_memory_sync_dirty_bitmap: num_dirty += ctpopl(src & ~dest)),
//   under Xen's trackers as under KVM's: a page written again before it was
//   sent is not dirt twice;
// - post-copy, like pre-copy, starts with a sync (ram_save_setup ->
//   ram_init_bitmaps -> migration_bitmap_sync_precopy), and
//   dirty-sync-count counts it;
// - Remus under `--after-end loop` says how long it ran past the capture.
import { describe, expect, it } from 'vitest';
import { guestSource } from '../../src/api/guest-source.js';
import { runMigration } from '../../src/api/run-migration.js';
import { RunEventKind } from '../../src/events/run-event-kind.js';
import type { RunBatch } from '../../src/events/run-batch.js';
import type { WorkloadDefinition } from '../../src/workloads/workload.js';
import { config, customSource } from '../helpers/custom-source.js';

/** 128 MiB. */
const M = 32_768;
const HOT = 64;

/**
 * Every page written once at 0 (none is a zero page), then the top HOT
 * pages of memory over and over from 1 ms: QEMU sends in memory order, so
 * at the first sync they have not been sent yet.
 */
const topWriter: WorkloadDefinition = {
  name: 'test-top-writer',
  description: 'writes every page, then the top pages of memory again and again',
  usesMmu: false,
  params: [],
  generate(c, out) {
    for (let p = 0; p < c.memPages; p++) out.physWrite(0, 0, p, 4096);
    for (let t = 1_000_000, i = 0; t <= c.durationNs; t += 20_000, i++) out.physWrite(t, 0, c.memPages - HOT + (i % HOT), 8);
  },
};

describe("QEMU's sync accounting", () => {
  it('a sync counts as dirty only the pages new to the bitmap, under hap, shadow and pml: pages still to send when written again are not new dirt', () => {
    for (const tracker of ['hap', 'shadow', 'pml'] as const) {
      const found: number[] = [];
      // A 10 s downtime limit: the first window's threshold (about 1.2 GB)
      // is over the whole guest, so the first live sync comes when the
      // first 100 ms window closes, with most of memory, the top pages
      // among it, still to send; what it finds then fits, and the guest stops.
      const s = runMigration(customSource(topWriter, config(M, 2e9)), { tracker, p2m: '4k', migration: { policy: 'qemu', startNs: 10e6, downtimeLimitNs: 10e9 } }, (b: RunBatch) => {
        for (let i = 0; i < b.count; i++) if (b.kind[i] === RunEventKind.bitmapSync) found.push(b.arg[i]!);
      });
      expect(s.outcome, tracker).toBe('completed');
      // The setup sync, one live sync, the last one in stop-and-copy.
      expect(found.length, tracker).toBe(3);
      // The live sync found the hot pages dirty in the log...
      expect(found[1], tracker).toBe(HOT);
      // ...but every one of them was still to send: no new dirt in the round.
      expect(s.rounds[0]!.dirtyPages, tracker).toBe(0);
    }
  });

  it("post-copy's dirty-sync-count counts QEMU's setup sync beside every CLEAN and the FINAL", () => {
    let cleans = 0;
    let finals = 0;
    const s = runMigration(customSource(topWriter, config(M, 2e9)), { tracker: 'hap', p2m: '4k', migration: { policy: 'postcopy', startNs: 10e6, postcopyAfterPasses: 2 } }, (b: RunBatch) => {
      for (let i = 0; i < b.count; i++) {
        if (b.kind[i] === RunEventKind.clean) cleans++;
        if (b.kind[i] === RunEventKind.final) finals++;
      }
    });
    expect(s.outcome).toBe('completed');
    // Two passes: one CLEAN between them, the FINAL at the switch.
    expect(cleans).toBe(1);
    expect(finals).toBe(1);
    expect(s.dirtySyncCount).toBe(1 + cleans + finals);
  });

  it('remus with after-end loop records how long it ran past the capture', () => {
    // 200 ms of hot-set on 64 MiB from 50 ms: the 0.54 s first pass outlasts the capture.
    const source = () => guestSource('hot-set', { seed: 1, durationNs: 200e6, memBytes: 64 * 1024 * 1024, vcpus: 2, guest: 'hvm', paging: 'x86-64', settings: {} });
    const s = runMigration(source(), { tracker: 'hap', migration: { policy: 'remus', startNs: 50e6, afterEnd: 'loop' } });
    expect(s.outcome).toBe('completed');
    expect(s.afterEndLoops).toBeGreaterThanOrEqual(2);
    // Checkpointing runs to the run's end: past the first end by the replays' time, less what the first pass did not yet cover.
    expect(s.afterEndNs).toBeGreaterThan((s.afterEndLoops - 1) * 200e6);
    expect(s.afterEndNs).toBeLessThanOrEqual(s.wallNs - 200e6);
  });
});
