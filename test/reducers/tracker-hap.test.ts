import { describe, expect, it } from 'vitest';
import { copyGuestBatch, type GuestBatch } from '../../src/events/guest-batch.js';
import { GuestBatchBuilder } from '../../src/events/guest-batch-builder.js';
import { NO_VCPU } from '../../src/events/guest-event-kind.js';
import { RunEventKind } from '../../src/events/run-event-kind.js';
import { DEFAULT_COSTS } from '../../src/model/cost-model.js';
import { PTE_RW, PTE_US } from '../../src/model/pte.js';
import { countBits } from '../../src/reducers/logdirty-bitmap.js';
import { checkPairing, TrackerPairingError } from '../../src/reducers/make-tracker.js';
import type { DriverFactory } from '../../src/reducers/driver.js';
import type { P2mPageSize, TrackerName } from '../../src/reducers/tracker.js';
import { EventScript, PageTableWriter } from '../helpers/mmu-script.js';
import { exits, makeTrackerSim, physWrites, rounds, ScriptedRun, setOf } from '../helpers/tracker-sim.js';

function makeSim(tracker: TrackerName, p2m: P2mPageSize, memPages = 4096, vcpus = 2, driver?: DriverFactory): ScriptedRun {
  return makeTrackerSim(tracker, { p2m, memPages, vcpus, driver });
}

describe('hap', () => {
  it('hap takes one NPF per first write per page per round', () => {
    const sim = makeSim('hap', '4k');
    const script = new EventScript();
    sim.tracker.enable(0);
    sim.step(physWrites(script, [1, 2, 3, 1, 2, 3, 3]));
    expect(exits(sim, RunEventKind.npfExit)).toBe(3);
    expect(setOf(sim.tracker.clean(sim.clock.nowNs))).toEqual([1, 2, 3]);
    sim.step(physWrites(script, [3, 3, 700, 3]));
    expect(exits(sim, RunEventKind.npfExit)).toBe(5);
    expect(setOf(sim.tracker.clean(sim.clock.nowNs))).toEqual([3, 700]);
    // Each first write stalled the writing vCPU by one NPF (and each new round's first touch of a table by a misconfig).
    const c = DEFAULT_COSTS;
    expect(sim.clock.stallNs[0]! - sim.clock.domainPausedNs).toBe(5 * (c.exitRoundTripNs + c.npfHandleNs) + 3 * (c.exitRoundTripNs + c.misconfigRecalcPerTableNs));
  });

  it('enable and clean only mark the root: the domain pause is their whole cost, and no exit happens before an access', () => {
    const sim = makeSim('hap', '2m');
    sim.tracker.enable(0);
    const c = DEFAULT_COSTS;
    expect(sim.tracker.exitCostNs[RunEventKind.logdirtyEnable]).toBe(c.logDirtyOpBaseNs);
    sim.tracker.clean(10);
    // paging_log_dirty_op copies (or zeroes) the toolstack's bitmap for every 32,768 pages of the guest.
    expect(sim.tracker.exitCostNs[RunEventKind.clean]).toBe(c.logDirtyOpBaseNs + Math.ceil(sim.mmu.memPages / 32_768) * c.cleanPerLeafNs);
    expect(exits(sim, RunEventKind.misconfigExit)).toBe(0);
  });

  it('lazy recalculation costs one misconfig exit per leaf table touched per round', () => {
    const sim = makeSim('hap', '4k');
    const script = new EventScript();
    sim.tracker.enable(0);
    // Tables 0, 1 and 5 (512 pages each), several pages in each, from two vCPUs.
    const round = [5, 6, 511, 512, 900, 1023, 2560, 3000, 6, 512];
    sim.step(physWrites(script, round.slice(0, 5), 0));
    sim.step(physWrites(script, round.slice(5), 1));
    expect(exits(sim, RunEventKind.misconfigExit)).toBe(3);
    sim.tracker.clean(sim.clock.nowNs);
    sim.step(physWrites(script, [7, 3001]));
    expect(exits(sim, RunEventKind.misconfigExit)).toBe(5);
  });

  it('a read takes the misconfig exit too, as do the page-table pages its walk reads, and no NPF', () => {
    const sim = makeSim('hap', '4k');
    const script = new EventScript();
    // Page tables from pfn 100 (leaf table 0), the data page in table 3.
    const pt = new PageTableWriter(script, 'x86-64', 100);
    const root = pt.allocPage();
    script.cr3Load(0, root);
    pt.map(root, 0x1234, 1700, PTE_RW | PTE_US);
    script.read(0, 0x1234); // sets every A bit before log-dirty is on
    sim.step(script.take());
    sim.tracker.enable(sim.clock.nowNs);
    sim.step(script.read(0, 0x1234).read(0, 0x1234).take());
    expect(exits(sim, RunEventKind.misconfigExit)).toBe(2);
    expect(exits(sim, RunEventKind.npfExit)).toBe(0);
    expect(sim.tracker.dirty.dirtyCount).toBe(0);
  });

  it('a walk that faults still reads its tables through the EPT: misconfig exits for them and no NPF (PML logs them, as EPT A/D counts table reads as writes)', () => {
    for (const tracker of ['hap', 'pml'] as const) {
      const sim = makeSim(tracker, '4k');
      const script = new EventScript();
      // Page tables from pfn 100 (2 MiB region 0); vpn 0x1235 shares the
      // leaf table of the mapped 0x1234 and has no entry of its own.
      const pt = new PageTableWriter(script, 'x86-64', 100);
      const root = pt.allocPage();
      script.cr3Load(0, root);
      const { tables } = pt.map(root, 0x1234, 1700, PTE_RW | PTE_US);
      script.read(0, 0x1234);
      sim.step(script.take());
      sim.tracker.enable(sim.clock.nowNs);
      sim.step(script.write(0, 0x1235).read(0, 0x1235).take());
      expect(sim.mmu.stats().faults, tracker).toBe(2);
      // The four tables share region 0: one recalculation, then the gate is open.
      expect(exits(sim, RunEventKind.misconfigExit), tracker).toBe(1);
      expect(exits(sim, RunEventKind.npfExit), tracker).toBe(0);
      expect(setOf(sim.tracker.clean(sim.clock.nowNs)), tracker).toEqual(tracker === 'pml' ? [...tables].sort((x, y) => x - y) : []);
    }
  });

  it('a write into a 2 MiB page splits it and dirties one page', () => {
    const sim = makeSim('hap', '2m');
    const script = new EventScript();
    sim.tracker.enable(0);
    sim.step(physWrites(script, [515]));
    expect(exits(sim, RunEventKind.misconfigExit)).toBe(1);
    expect(exits(sim, RunEventKind.npfExit)).toBe(1);
    expect(exits(sim, RunEventKind.superpageSplit)).toBe(1);
    expect(sim.tracker.exitCostNs[RunEventKind.superpageSplit]).toBe(DEFAULT_COSTS.superpageSplitNs);
    expect(sim.tracker.dirty.dirtyCount).toBe(1);
    // The other 511 entries of the split table are log-dirty 4 KiB entries now: an NPF each, no second split.
    sim.step(physWrites(script, [516, 515]));
    expect(exits(sim, RunEventKind.npfExit)).toBe(2);
    expect(exits(sim, RunEventKind.superpageSplit)).toBe(1);
    expect(sim.tracker.stats()).toMatchObject({ splitTables: 1, splits2m: 1, superpages2m: 7 });
    // Split entries stay split across rounds.
    expect(setOf(sim.tracker.clean(sim.clock.nowNs))).toEqual([515, 516]);
    sim.step(physWrites(script, [600]));
    expect(exits(sim, RunEventKind.superpageSplit)).toBe(1);
    // Tracker memory: one bitmap leaf plus the split table.
    expect(sim.tracker.memoryBytes()).toBe(4096 + 4096);
  });

  it('a 1 GiB page splits down to 4 KiB: 512 leaf tables and the table of 2 MiB entries', () => {
    const sim = makeSim('hap', '1g', 262_144 + 1024);
    const script = new EventScript();
    sim.tracker.enable(0);
    sim.step(physWrites(script, [1000]));
    expect(exits(sim, RunEventKind.misconfigExit)).toBe(1);
    expect(exits(sim, RunEventKind.superpageSplit)).toBe(1);
    expect(sim.tracker.exitCostNs[RunEventKind.superpageSplit]).toBe(513 * DEFAULT_COSTS.superpageSplitNs);
    expect(sim.tracker.stats()).toMatchObject({ splitTables: 513, splits1g: 1, superpages1g: 0, superpages2m: 2 });
    // Elsewhere in the former 1 GiB range: already recalculated and split, so an NPF only.
    sim.step(physWrites(script, [200_000]));
    expect(exits(sim, RunEventKind.misconfigExit)).toBe(1);
    expect(exits(sim, RunEventKind.npfExit)).toBe(2);
    expect(exits(sim, RunEventKind.superpageSplit)).toBe(1);
    // Beyond the 1 GiB range the guest is backed by 2 MiB pages.
    sim.step(physWrites(script, [262_144 + 3]));
    expect(exits(sim, RunEventKind.superpageSplit)).toBe(2);
    expect(sim.tracker.dirty.dirtyCount).toBe(3);
  });

  it('device writes mark pages dirty without an exit', () => {
    const sim = makeSim('hap', '2m');
    const script = new EventScript();
    sim.tracker.enable(0);
    sim.step(physWrites(script, [10, 11, 2000], NO_VCPU));
    expect(setOf(sim.tracker.peek(sim.clock.nowNs))).toEqual([10, 11, 2000]);
    for (const k of [RunEventKind.npfExit, RunEventKind.misconfigExit, RunEventKind.superpageSplit]) expect(exits(sim, k)).toBe(0);
  });

  it("the walker's A/D stores into page-table pages fault like any write", () => {
    const sim = makeSim('hap', '4k');
    const script = new EventScript();
    const pt = new PageTableWriter(script, 'x86-64', 100);
    const root = pt.allocPage();
    script.cr3Load(0, root);
    const { leafPtPfn } = pt.map(root, 0x2000, 1700, PTE_RW | PTE_US);
    pt.map(root, 0x2001, 1701, PTE_RW | PTE_US);
    script.read(0, 0x2000); // A set on every level above the leaf
    sim.step(script.take());
    sim.tracker.enable(sim.clock.nowNs);
    // The write sets A and D in the leaf entry of 0x2001: a store into the leaf table.
    sim.step(script.write(0, 0x2001).write(0, 0x2001).take());
    expect(exits(sim, RunEventKind.npfExit)).toBe(2);
    expect(setOf(sim.tracker.peek(sim.clock.nowNs))).toEqual([leafPtPfn, 1701]);
  });

  it('off returns every entry to a writable type, lazily: misconfig exits but no NPF afterwards', () => {
    const sim = makeSim('hap', '2m');
    const script = new EventScript();
    sim.tracker.enable(0);
    sim.step(physWrites(script, [515]));
    sim.tracker.off(sim.clock.nowNs);
    const npf = exits(sim, RunEventKind.npfExit);
    const misconfig = exits(sim, RunEventKind.misconfigExit);
    sim.step(physWrites(script, [515, 516, 3000, 3001]));
    expect(exits(sim, RunEventKind.npfExit)).toBe(npf);
    expect(exits(sim, RunEventKind.misconfigExit)).toBe(misconfig + 2);
    expect(sim.tracker.stats()).toMatchObject({ splitTables: 1 });
  });

  it('hap loses no write: the oracle finds every page sent', () => {
    // Rounds of 0.5 ms (far longer than a CLEAN's pause), a write every 10 us.
    const r = rounds(500_000, 0);
    const sim = makeSim('hap', '2m', 4096, 2, r.factory);
    const driver = r.driver;
    const batches: GuestBatch[] = [];
    const b = new GuestBatchBuilder((x) => batches.push(copyGuestBatch(x)));
    for (let k = 0; k < 300; k++) b.physWrite(10_000 * (k + 1), k % 2, (k * 37) % 4096, 8);
    b.flush();
    for (const x of batches) sim.step(x);
    expect(driver.rounds.length).toBeGreaterThan(2);
    expect(sim.finish().lostPages).toBe(0);
  });

  it('pairing: hap and pml on a PV guest is a clear error', () => {
    for (const t of ['hap', 'pml'] as const) {
      expect(() => checkPairing(t, 'pv')).toThrow(TrackerPairingError);
      expect(() => checkPairing(t, 'pv')).toThrow(/needs an HVM guest/);
      expect(() => checkPairing(t, 'hvm')).not.toThrow();
      expect(
        () =>
          new ScriptedRun({ guest: { type: 'pv', paging: 'x86-64', memPages: 1024, vcpus: 1 }, seed: 1, tracker: t, superpages: 'split', p2m: '2m', costs: DEFAULT_COSTS }),
      ).toThrow(/a PV guest migrates with 'shadow'/);
    }
  });

  it('a superpage entry is recalculated once for its whole range, and a device write recalculates nothing', () => {
    const sim = makeSim('hap', '2m');
    const script = new EventScript();
    sim.tracker.enable(0);
    sim.step(physWrites(script, [512], NO_VCPU)); // no EPT: no exit
    expect(exits(sim, RunEventKind.misconfigExit)).toBe(0);
    sim.step(physWrites(script, [512, 1000]));
    expect(exits(sim, RunEventKind.misconfigExit)).toBe(1);
    expect(countBits(sim.tracker.peek(sim.clock.nowNs))).toBe(2);
  });
});
