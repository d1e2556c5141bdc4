// Checks KVM's dirty-bitmap trackers (kvm-wp, kvm-pml: src/reducers/tracker-kvm*.ts)
// against the rules of Linux's kvm_get_dirty_log_protect, kvm_clear_dirty_log_protect,
// kvm_mmu_slot_apply_flags and the TDP MMU's huge-page splits, each counted by hand
// from the writes the test makes.
import { describe, expect, it } from 'vitest';
import { RunEventKind } from '../../src/events/run-event-kind.js';
import { DEFAULT_COSTS } from '../../src/model/cost-model.js';
import { PML_ENTRIES } from '../../src/reducers/tracker-pml.js';
import { EventScript } from '../helpers/mmu-script.js';
import { exits, makeTrackerSim, physWrites, setOf } from '../helpers/tracker-sim.js';

const range = (from: number, n: number) => Array.from({ length: n }, (_, k) => from + k);
const c = DEFAULT_COSTS;

describe('kvm-wp without manual protect (KVM_GET_DIRTY_LOG)', () => {
  it('kvm-wp takes one write-protect fault per page per round, and GET re-protects exactly the pages it returns', () => {
    const sim = makeTrackerSim('kvm-wp', { kvm: { manualProtect: false } });
    const s = new EventScript();
    sim.tracker.enable(0);
    sim.step(physWrites(s, [10, 11, 10, 11, 700], 0));
    expect(exits(sim, RunEventKind.npfExit)).toBe(3);
    expect(sim.tracker.exitCostNs[RunEventKind.npfExit]).toBe(3 * (c.exitRoundTripNs + c.kvmWpFaultNs));
    expect(setOf(sim.tracker.clean(sim.clock.nowNs))).toEqual([10, 11, 700]);
    // The GET ran on QEMU's thread: base, one bitmap leaf, three pages re-protected; no domain pause.
    expect(sim.tracker.opThreadNs).toBe(c.kvmIoctlBaseNs + c.cleanPerLeafNs + 3 * c.kvmProtectPerPageNs);
    expect(sim.tracker.domainPausedNs).toBe(0);
    // Re-protected: each takes its fault again; a page never written stays protected too.
    sim.step(physWrites(s, [10, 11, 700, 701], 1));
    expect(exits(sim, RunEventKind.npfExit)).toBe(7);
    expect(setOf(sim.tracker.clean(sim.clock.nowNs))).toEqual([10, 11, 700, 701]);
    // Both syncs re-protected something: every running vCPU took a TLB-flush kick each time.
    expect(exits(sim, RunEventKind.kickExit)).toBe(4);
  });
});

describe('kvm-wp with manual protect (KVM_CLEAR_DIRTY_LOG, initially set)', () => {
  it('manual protect re-protects only the cleared chunks', () => {
    // Chunks of 64 pages (clear-bitmap-shift 6, QEMU's smallest).
    const sim = makeTrackerSim('kvm-wp', { kvm: { manualProtect: true, clearBitmapShift: 6 } });
    const s = new EventScript();
    const t = sim.tracker;
    t.enable(0);
    // Initially set: every page dirty, nothing protected, so no write faults.
    expect(t.dirty.dirtyCount).toBe(4096);
    sim.step(physWrites(s, [0, 5, 64, 130], 0));
    expect(exits(sim, RunEventKind.npfExit)).toBe(0);
    // Clearing chunk 0 (pages 0-63) re-protects those 64 pages and nothing else.
    t.clearChunk(0, sim.clock.nowNs);
    expect(t.exitCounts[RunEventKind.dirtyLogClear]).toBe(1);
    expect(t.dirty.dirtyCount).toBe(4096 - 64);
    sim.step(physWrites(s, [0, 5, 63, 64, 127, 130], 0));
    // Faults on 0, 5 and 63 (chunk 0); 64, 127 (chunk 1) and 130 (chunk 2) are still writable.
    expect(exits(sim, RunEventKind.npfExit)).toBe(3);
    // A GET copies without re-protecting: the uncleared chunks and the three new faults.
    const got = setOf(t.clean(sim.clock.nowNs));
    expect(got.length).toBe(4096 - 64 + 3);
    expect(got.slice(0, 4)).toEqual([0, 5, 63, 64]);
    sim.step(physWrites(s, [0, 5], 0));
    expect(exits(sim, RunEventKind.npfExit)).toBe(3);
    // Clearing chunk 0 again re-protects just the three pages the GET saw there.
    t.clearChunk(0, sim.clock.nowNs);
    expect(sim.tracker.stats().protectedPages).toBe(64 + 3);
    // 0, 5 and 63 fault again; 6 has stayed protected since the first CLEAR (never written): it faults too.
    sim.step(physWrites(s, [0, 5, 63, 6], 0));
    expect(exits(sim, RunEventKind.npfExit)).toBe(7);
  });

  it('a CLEAR costs QEMU thread time for the pages it re-protects, and kicks the vCPUs only when it re-protected any', () => {
    const sim = makeTrackerSim('kvm-wp', { kvm: { manualProtect: true, clearBitmapShift: 6 } });
    const t = sim.tracker;
    t.enable(0);
    expect(t.clearChunk(0, 0)).toBe(c.kvmIoctlBaseNs + c.cleanPerLeafNs + 64 * c.kvmProtectPerPageNs);
    expect(exits(sim, RunEventKind.kickExit)).toBe(2);
    // Cleared already, nothing dirty since: an empty mask.
    expect(t.clearChunk(0, 0)).toBe(c.kvmIoctlBaseNs + c.cleanPerLeafNs);
    expect(exits(sim, RunEventKind.kickExit)).toBe(2);
  });
});

describe('huge pages', () => {
  // 4096 pages on 2 MiB entries: 8 huge pages. One write into each.
  const oneWriteEach = range(0, 8).map((r) => r * 512 + 7);

  it('eager splitting moves the split cost from first writes to enable', () => {
    for (const eagerPageSplit of [true, false]) {
      const sim = makeTrackerSim('kvm-wp', { p2m: '2m', kvm: { manualProtect: false, eagerPageSplit } });
      sim.tracker.enable(0);
      const enableNs = sim.tracker.opThreadNs;
      sim.step(physWrites(new EventScript(), oneWriteEach, 0));
      const protectAllNs = c.logDirtyOpBaseNs + 4096 * c.kvmProtectPerPageNs;
      if (eagerPageSplit) {
        // kvm_mmu_slot_try_split_huge_pages: 8 tables on QEMU's thread; the writes are plain faults.
        expect(enableNs).toBe(protectAllNs + 8 * c.kvmSplitPerTableNs);
        expect(exits(sim, RunEventKind.superpageSplit)).toBe(0);
      } else {
        expect(enableNs).toBe(protectAllNs);
        // Each first write splits its huge page on the vCPU: one table each.
        expect(exits(sim, RunEventKind.superpageSplit)).toBe(8);
        expect(sim.tracker.exitCostNs[RunEventKind.superpageSplit]).toBe(8 * c.kvmSplitPerTableNs);
      }
      expect(exits(sim, RunEventKind.npfExit)).toBe(8);
      expect(sim.tracker.stats().splitTables).toBe(8);
      // After the split the huge page's other pages are protected 4 KiB entries: one fault each, no split.
      sim.step(physWrites(new EventScript(), [8, 9, 520], 0));
      expect(exits(sim, RunEventKind.npfExit)).toBe(11);
      expect(sim.tracker.stats().splitTables).toBe(8);
    }
  });

  it('with manual protect, eager splitting happens at CLEAR, only under the pages the mask names', () => {
    const sim = makeTrackerSim('kvm-wp', { p2m: '2m', kvm: { manualProtect: true, clearBitmapShift: 6 } });
    const t = sim.tracker;
    t.enable(0);
    expect(t.stats().splitTables).toBe(0);
    // Chunk 8 (pages 512-575) is in the second huge page: that one is split, no other.
    const ns = t.clearChunk(512, 0);
    expect(t.stats().splitTables).toBe(1);
    expect(ns).toBe(c.kvmIoctlBaseNs + c.cleanPerLeafNs + 64 * c.kvmProtectPerPageNs + c.kvmSplitPerTableNs);
  });

  it('without eager splitting, a CLEAR write-protects the whole huge page and its first write splits it', () => {
    const sim = makeTrackerSim('kvm-wp', { p2m: '2m', kvm: { manualProtect: true, clearBitmapShift: 6, eagerPageSplit: false } });
    const t = sim.tracker;
    t.enable(0);
    t.clearChunk(512, 0);
    // Page 1000 lies in the same huge page but outside the chunk: protected with it (PG_LEVEL_2M).
    sim.step(physWrites(new EventScript(), [1000, 1001, 2000], 0));
    expect(exits(sim, RunEventKind.superpageSplit)).toBe(1);
    expect(exits(sim, RunEventKind.npfExit)).toBe(2);
  });

  it('a first write into a 1 GiB page splits one level at a time toward it: two tables', () => {
    const sim = makeTrackerSim('kvm-wp', { p2m: '1g', memPages: 262144, kvm: { manualProtect: false, eagerPageSplit: false } });
    sim.tracker.enable(0);
    sim.step(physWrites(new EventScript(), [1000, 1001, 5000], 0));
    // 1000: 1 GiB -> 2 MiB entries, then its 2 MiB -> 4 KiB; 1001: a plain fault; 5000: its 2 MiB entry split.
    expect(sim.tracker.stats().splitTables).toBe(3);
    expect(exits(sim, RunEventKind.npfExit)).toBe(3);
  });
});

describe('kvm-pml', () => {
  it('kvm-pml logs first writes with no fault, exits once per 512 newly dirtied pages, and GET kicks every vCPU to flush its buffer', () => {
    const sim = makeTrackerSim('kvm-pml', { kvm: { manualProtect: false } });
    const s = new EventScript();
    sim.tracker.enable(0);
    sim.step(physWrites(s, range(0, 2 * PML_ENTRIES + 10), 0));
    sim.step(physWrites(s, range(3000, 7), 1));
    expect(exits(sim, RunEventKind.npfExit)).toBe(0);
    // The 513th and 1025th new pages found the buffer full.
    expect(exits(sim, RunEventKind.pmlFullExit)).toBe(2);
    const bits = sim.tracker.clean(sim.clock.nowNs);
    expect(setOf(bits)).toEqual([...range(0, 2 * PML_ENTRIES + 10), ...range(3000, 7)]);
    // Two kicks to flush (10 and 7 entries), then two TLB-flush kicks after re-protecting.
    expect(exits(sim, RunEventKind.kickExit)).toBe(4);
    expect(sim.tracker.exitCostNs[RunEventKind.kickExit]).toBe(4 * c.exitRoundTripNs + 17 * c.pmlFlushPerEntryNs);
    // D bits cleared again: the same pages log anew, still with no fault.
    sim.step(physWrites(s, [1, 2], 0));
    expect(setOf(sim.tracker.clean(sim.clock.nowNs))).toEqual([1, 2]);
    expect(exits(sim, RunEventKind.npfExit)).toBe(0);
  });

  it('kvm-pml faults rather than logs on the 4 KiB entries a split leaves write-protected', () => {
    const sim = makeTrackerSim('kvm-pml', { p2m: '2m', kvm: { manualProtect: false, eagerPageSplit: false } });
    sim.tracker.enable(0);
    sim.step(physWrites(new EventScript(), [7, 8, 9, 600], 0));
    // 7 splits its huge page (fault); 8 and 9 inherit write protection (faults); 600 splits the next.
    expect(exits(sim, RunEventKind.superpageSplit)).toBe(2);
    expect(exits(sim, RunEventKind.npfExit)).toBe(4);
    expect(setOf(sim.tracker.clean(sim.clock.nowNs))).toEqual([7, 8, 9, 600]);
    // After GET they are D-clear: logged, no fault.
    sim.step(physWrites(new EventScript(), [8, 9, 10], 0));
    expect(exits(sim, RunEventKind.npfExit)).toBe(5);
  });
});
