// Checks KVM's dirty ring (src/reducers/tracker-kvm-ring.ts) against
// virt/kvm/dirty_ring.c and QEMU's accel/kvm/kvm-all.c: the soft limit (size
// less KVM_DIRTY_RING_RSVD_ENTRIES and PML's 512), the ring-full exit that
// only the writing vCPU pays, QEMU's reaper once a second, and the sync's
// kick-reap-reset. Expected counts are derived from the writes made.
import { describe, expect, it } from 'vitest';
import { copyGuestBatch, type GuestBatch } from '../../src/events/guest-batch.js';
import { GuestBatchBuilder } from '../../src/events/guest-batch-builder.js';
import { RunEventKind } from '../../src/events/run-event-kind.js';
import { DEFAULT_COSTS } from '../../src/model/cost-model.js';
import { PTE_RW, PTE_US } from '../../src/model/pte.js';
import { DIRTY_RING_RSVD_ENTRIES, REAPER_INTERVAL_NS } from '../../src/reducers/tracker-kvm-ring.js';
import { PML_ENTRIES } from '../../src/reducers/tracker-pml.js';
import { EventScript, PageTableWriter } from '../helpers/mmu-script.js';
import { exits, makeTrackerSim, physWrites, setOf } from '../helpers/tracker-sim.js';

const range = (from: number, n: number) => Array.from({ length: n }, (_, k) => from + k);
const c = DEFAULT_COSTS;

function batchesOf(fill: (b: GuestBatchBuilder) => void): GuestBatch[] {
  const out: GuestBatch[] = [];
  const b = new GuestBatchBuilder((x) => out.push(copyGuestBatch(x)), 4096);
  fill(b);
  b.flush();
  return out;
}

describe('kvm-ring', () => {
  it('kvm-ring takes one soft-full exit per (ring size - reserve) dirtied pages on a vCPU, rounded up to the PML flush that crosses it, and none on a vCPU that only reads', () => {
    const ringSize = 4096;
    const sim = makeTrackerSim('kvm-ring', { memPages: 16384, kvm: { dirtyRingSize: ringSize } });
    const script = new EventScript();
    // vCPU 1 maps 16 pages and touches them once before logging starts (A bits set), then only reads them.
    const pt = new PageTableWriter(script, 'x86-64', 100);
    const root = pt.allocPage();
    script.cr3Load(1, root);
    const vpns = range(0x4000, 16);
    for (const [k, vpn] of vpns.entries()) pt.map(root, vpn, 2000 + k, PTE_RW | PTE_US);
    for (const vpn of vpns) script.read(1, vpn);
    sim.step(script.take());
    sim.tracker.enable(sim.clock.nowNs);
    // Soft limit: 4096 - (64 + 512) = 3520 entries. Entries reach the ring 512 at a time (each PML flush),
    // so the ring first reaches it at the 7th flush, 3584 entries: one exit per 3584 new pages.
    const softLimit = ringSize - (DIRTY_RING_RSVD_ENTRIES + PML_ENTRIES);
    const perExit = Math.ceil(softLimit / PML_ENTRIES) * PML_ENTRIES;
    expect(perExit).toBe(3584);
    const pages = 3 * perExit + 1;
    for (let k = 0; k < pages; k++) {
      script.physWrite(5000 + k, 8, 0);
      if (k % 64 === 0) script.read(1, vpns[k % 16]!);
    }
    sim.step(script.take());
    expect(exits(sim, RunEventKind.pmlFullExit)).toBe(Math.floor((pages - 1) / PML_ENTRIES));
    expect(exits(sim, RunEventKind.dirtyRingFullExit)).toBe(3);
    // The first exit reaped vCPU 0's 3584 entries: the exit to QEMU, the reaping and the reset, on vCPU 0.
    const perExitNs = c.exitRoundTripNs + c.kvmUserspaceExitNs + c.kvmIoctlBaseNs + perExit * (c.ringReapPerEntryNs + c.kvmProtectPerPageNs);
    expect(sim.tracker.exitCostNs[RunEventKind.dirtyRingFullExit]).toBe(3 * perExitNs);
    // vCPU 1 took no ring-full exit: its only stall is the TLB-flush kick of each reset (3).
    expect(sim.clock.stallNs[1]).toBe(3 * c.exitRoundTripNs);
    expect(exits(sim, RunEventKind.kickExit)).toBe(3);
    // What was reaped is in QEMU's bitmap already; the sync adds the rest.
    expect(sim.tracker.dirty.dirtyCount).toBe(3 * perExit);
    expect(setOf(sim.tracker.clean(sim.clock.nowNs))).toEqual(range(5000, pages));
  });

  it('with the smallest ring (1024) the soft limit (448) is below one PML flush: every PML-full exit becomes a ring-full exit', () => {
    const sim = makeTrackerSim('kvm-ring', { memPages: 8192, kvm: { dirtyRingSize: 1024 } });
    sim.tracker.enable(0);
    sim.step(physWrites(new EventScript(), range(0, 4 * PML_ENTRIES + 1), 0));
    expect(exits(sim, RunEventKind.pmlFullExit)).toBe(4);
    expect(exits(sim, RunEventKind.dirtyRingFullExit)).toBe(4);
  });

  it("QEMU's reaper collects every ring once a second, on its own thread", () => {
    const sim = makeTrackerSim('kvm-ring', { memPages: 8192 });
    sim.tracker.enable(0);
    // 600 pages (one PML flush into the ring, 88 still in the buffer) before the second; one more after it.
    for (const b of batchesOf((g) => {
      for (let k = 0; k < 600; k++) g.physWrite(1000 + k * 1000, 0, k, 8);
    }))
      sim.step(b);
    expect(exits(sim, RunEventKind.dirtyRingReap)).toBe(0);
    expect(sim.tracker.dirty.dirtyCount).toBe(0);
    for (const b of batchesOf((g) => {
      for (let k = 0; k < 600; k++) g.physWrite(REAPER_INTERVAL_NS + 1000 + k * 1000, 0, 600 + k, 8);
    }))
      sim.step(b);
    // The first refused store after the second (page 600) ran the reaper first: it took the ring's 512; the flush at the 1025th page pushed 512 more.
    expect(exits(sim, RunEventKind.dirtyRingReap)).toBe(1);
    expect(sim.tracker.dirty.dirtyCount).toBe(PML_ENTRIES);
    expect(sim.clock.stallNs[0]).toBe(2 * (c.exitRoundTripNs + PML_ENTRIES * c.pmlFlushPerEntryNs) + c.exitRoundTripNs);
  });

  it('a sync kicks every vCPU (its PML buffer into its ring), reaps and resets every ring, and returns the whole dirty set', () => {
    const sim = makeTrackerSim('kvm-ring');
    const s = new EventScript();
    sim.tracker.enable(0);
    sim.step(physWrites(s, range(100, 10), 0));
    sim.step(physWrites(s, range(3000, 7), 1));
    expect(setOf(sim.tracker.clean(sim.clock.nowNs))).toEqual([...range(100, 10), ...range(3000, 7)]);
    expect(sim.tracker.opThreadNs).toBe(c.kvmIoctlBaseNs + 17 * (c.ringReapPerEntryNs + c.kvmProtectPerPageNs));
    // Reset: the same pages log again.
    sim.step(physWrites(s, [101, 3001], 1));
    expect(setOf(sim.tracker.clean(sim.clock.nowNs))).toEqual([101, 3001]);
  });
});
