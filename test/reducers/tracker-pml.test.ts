import { describe, expect, it } from 'vitest';
import { copyGuestBatch, type GuestBatch } from '../../src/events/guest-batch.js';
import { GuestBatchBuilder } from '../../src/events/guest-batch-builder.js';
import { NO_VCPU } from '../../src/events/guest-event-kind.js';
import { RunEventKind } from '../../src/events/run-event-kind.js';
import { DEFAULT_COSTS } from '../../src/model/cost-model.js';
import { PTE_RW, PTE_US } from '../../src/model/pte.js';
import type { SuperpagePolicy, TrackerName } from '../../src/reducers/tracker.js';
import { PML_ENTRIES } from '../../src/reducers/tracker-pml.js';
import { EventScript, PageTableWriter } from '../helpers/mmu-script.js';
import { exits, makeTrackerSim as makeSim, physWrites, rounds, setOf } from '../helpers/tracker-sim.js';

const range = (from: number, n: number) => Array.from({ length: n }, (_, k) => from + k);

/** Guest events written with GuestBatchBuilder at explicit times, as whole batches. */
function batchesOf(fill: (b: GuestBatchBuilder) => void): GuestBatch[] {
  const out: GuestBatch[] = [];
  const b = new GuestBatchBuilder((x) => out.push(copyGuestBatch(x)), 4096);
  fill(b);
  b.flush();
  return out;
}

/** Whether a tracker is built into this tree (shadow may not be yet). */
function available(tracker: TrackerName): boolean {
  try {
    makeSim(tracker);
    return true;
  } catch {
    return false;
  }
}

describe('pml', () => {
  it('pml exits once per 512 newly dirtied pages', () => {
    const sim = makeSim('pml');
    sim.tracker.enable(0);
    // The exit comes when a write finds the buffer full: the 513th, 1025th, 1537th new page.
    sim.step(physWrites(new EventScript(), range(0, 3 * PML_ENTRIES), 0));
    expect(exits(sim, RunEventKind.pmlFullExit)).toBe(2);
    const more = new EventScript();
    sim.step(physWrites(more, [0, 1, 2, ...range(0, 3 * PML_ENTRIES)], 0)); // all dirty already: no logging
    expect(exits(sim, RunEventKind.pmlFullExit)).toBe(2);
    sim.step(physWrites(more, [3 * PML_ENTRIES], 0));
    expect(exits(sim, RunEventKind.pmlFullExit)).toBe(3);
    expect(exits(sim, RunEventKind.npfExit)).toBe(0);
    const c = DEFAULT_COSTS;
    expect(sim.tracker.exitCostNs[RunEventKind.pmlFullExit]).toBe(3 * (c.exitRoundTripNs + 512 * c.pmlFlushPerEntryNs));
    // Each vCPU has its own buffer.
    sim.step(physWrites(more, range(2000, PML_ENTRIES + 1), 1));
    expect(exits(sim, RunEventKind.pmlFullExit)).toBe(4);
  });

  it('pml flushes every vCPU buffer on peek and clean: the dirty set is complete though no buffer was full', () => {
    const sim = makeSim('pml');
    const script = new EventScript();
    sim.tracker.enable(0);
    sim.step(physWrites(script, range(100, 10), 0));
    sim.step(physWrites(script, range(3000, 7), 1));
    expect(sim.tracker.dirty.dirtyCount).toBe(0); // still in the buffers
    expect(setOf(sim.tracker.peek(sim.clock.nowNs))).toEqual([...range(100, 10), ...range(3000, 7)]);
    const c = DEFAULT_COSTS;
    expect(sim.tracker.exitCostNs[RunEventKind.peek]).toBe(c.logDirtyOpBaseNs + c.cleanPerLeafNs + 17 * c.pmlFlushPerEntryNs);
    sim.step(physWrites(script, [101, 102, 200], 0));
    expect(setOf(sim.tracker.clean(sim.clock.nowNs))).toEqual([...range(100, 10), 200, ...range(3000, 7)]);
    expect(exits(sim, RunEventKind.pmlFullExit)).toBe(0);
    // After CLEAN the D bits are clear again: the same pages are logged anew.
    sim.step(physWrites(script, [101, 3001], 1));
    expect(setOf(sim.tracker.final(sim.clock.nowNs))).toEqual([101, 3001]);
  });

  it('pml takes no NPF on 4 KiB entries, but lazy recalculation still costs a misconfig exit per leaf table per round', () => {
    const sim = makeSim('pml');
    const script = new EventScript();
    sim.tracker.enable(0);
    sim.step(physWrites(script, [1, 2, 600, 601, 3000]));
    expect(exits(sim, RunEventKind.misconfigExit)).toBe(3);
    expect(exits(sim, RunEventKind.npfExit)).toBe(0);
    sim.tracker.clean(sim.clock.nowNs);
    sim.step(physWrites(script, [1, 2]));
    expect(exits(sim, RunEventKind.misconfigExit)).toBe(4);
  });

  it('pml split: a write into a log-dirty 2 MiB page takes an NPF and splits it; the 4 KiB entries after it are logged', () => {
    const sim = makeSim('pml', { p2m: '2m', superpages: 'split' });
    const script = new EventScript();
    sim.tracker.enable(0);
    sim.step(physWrites(script, [515, 516, 517, 515]));
    expect(exits(sim, RunEventKind.npfExit)).toBe(1);
    expect(exits(sim, RunEventKind.superpageSplit)).toBe(1);
    expect(sim.tracker.stats()).toMatchObject({ pmlLoggedEntries: 2, splitTables: 1 });
    expect(setOf(sim.tracker.clean(sim.clock.nowNs))).toEqual([515, 516, 517]);
    // Tracker memory: one bitmap leaf, two vCPU buffers of 512 8-byte entries, one split table.
    expect(sim.tracker.memoryBytes()).toBe(4096 + 2 * 512 * 8 + 4096);
  });

  it('pml whole: one write dirties all 512 pages of its 2 MiB superpage', () => {
    const sim = makeSim('pml', { p2m: '2m', superpages: 'whole' });
    const script = new EventScript();
    sim.tracker.enable(0);
    sim.step(physWrites(script, [515, 700, 1000]));
    expect(exits(sim, RunEventKind.npfExit)).toBe(0);
    expect(exits(sim, RunEventKind.superpageSplit)).toBe(0);
    expect(sim.tracker.stats()).toMatchObject({ pmlLoggedEntries: 1 });
    expect(setOf(sim.tracker.clean(sim.clock.nowNs))).toEqual(range(512, 512));
    // The next round logs the superpage again on its first write.
    sim.step(physWrites(script, [2047]));
    expect(setOf(sim.tracker.clean(sim.clock.nowNs))).toEqual(range(1536, 512));
  });

  it('pml logged-only marks only the logged page: 3 pages written in one 2 MiB superpage, 2 lost, and the oracle counts them', () => {
    const lost = (tracker: TrackerName, superpages: SuperpagePolicy) => {
      const sim = makeSim(tracker, { p2m: '2m', superpages, driver: rounds(1e9, 0).factory });
      sim.step(physWrites(new EventScript(), [515, 600, 1000, 515]));
      return sim.finish();
    };
    const r = lost('pml', 'logged-only');
    expect(r.lostPages).toBe(2);
    expect(r.firstLostPfns).toEqual([600, 1000]);
    expect(lost('pml', 'split').lostPages).toBe(0);
    expect(lost('pml', 'whole').lostPages).toBe(0);
    expect(lost('hap', 'split').lostPages).toBe(0);
  });

  it('pml split and whole lose nothing over many rounds of random writes, logged-only does', () => {
    const events = batchesOf((b) => {
      let x = 12345;
      for (let k = 0; k < 20_000; k++) {
        x = (Math.imul(x, 1103515245) + 12345) >>> 0;
        const vcpu = k % 3 === 2 ? NO_VCPU : k % 2;
        b.physWrite(1_000 * (k + 1), vcpu, x % 8192, 8);
      }
    });
    const lost = (superpages: SuperpagePolicy) => {
      const rs = rounds(1_000_000, 0);
      const sim = makeSim('pml', { p2m: '2m', superpages, memPages: 8192, driver: rs.factory });
      const driver = rs.driver;
      for (const b of events) sim.step(b);
      const r = sim.finish();
      expect(driver.rounds.length).toBeGreaterThan(10);
      return r.lostPages;
    };
    expect(lost('split')).toBe(0);
    expect(lost('whole')).toBe(0);
    expect(lost('logged-only')).toBeGreaterThan(0);
  });

  it('hap and pml (and shadow, when built) report identical dirty sets for the same 4 KiB-only workload and round boundaries', () => {
    // Guest-physical stores from two vCPUs and device DMA, in rounds cut at
    // the same events: CLEAN between batches.
    const rounds: GuestBatch[][] = [];
    let x = 99;
    let t = 0;
    for (let r = 0; r < 5; r++) {
      rounds.push(
        batchesOf((b) => {
          for (let k = 0; k < 3000; k++) {
            x = (Math.imul(x, 1103515245) + 12345) >>> 0;
            const pfn = r % 2 === 0 ? x % 4096 : 1024 + (x % 700);
            b.physWrite((t += 50), k % 5 === 4 ? NO_VCPU : k % 2, pfn, 8);
          }
        }),
      );
    }
    const dirtySets = (tracker: TrackerName) => {
      const sim = makeSim(tracker, { p2m: '4k' });
      sim.tracker.enable(0);
      const sets: number[][] = [];
      for (const round of rounds) {
        for (const b of round) sim.step(b);
        sets.push(setOf(sim.tracker.clean(sim.clock.nowNs)));
      }
      return sets;
    };
    const hap = dirtySets('hap');
    expect(hap[0]!.length).toBeGreaterThan(1000);
    expect(dirtySets('pml')).toEqual(hap);
    if (available('shadow')) expect(dirtySets('shadow')).toEqual(hap);
  });

  it('pml also reports the page-table pages each walk reads (EPT A/D makes walks writes); otherwise the same set as hap (and shadow)', () => {
    const script = new EventScript();
    const pt = new PageTableWriter(script, 'x86-64', 100);
    const root = pt.allocPage();
    script.cr3Load(0, root);
    const vpns = range(0x4000, 40);
    const tables = new Set<number>([root]);
    for (const [k, vpn] of vpns.entries()) for (const p of pt.map(root, vpn, 1000 + 7 * k, PTE_RW | PTE_US).tables) tables.add(p);
    for (const vpn of vpns) script.write(0, vpn); // every A and D bit set before log-dirty is on
    const setup = script.take();
    const leafTable = pt.tableAt(root, vpns[0]!, 1)!;
    const rounds = [0, 1, 2].map((r) => {
      for (const [k, vpn] of vpns.entries()) if ((k + r) % 3 !== 0) script.write(0, vpn);
      for (const vpn of vpns) script.read(0, vpn);
      // A new mapping in the same leaf table, then a first write through it (the walker sets its A and D).
      pt.map(root, vpns[0]! + 100 + r, 2000 + r, PTE_RW | PTE_US);
      script.write(0, vpns[0]! + 100 + r);
      return script.take();
    });
    const dirtySets = (tracker: TrackerName) => {
      const sim = makeSim(tracker, { p2m: '4k' });
      sim.step(setup);
      sim.tracker.enable(sim.clock.nowNs);
      return rounds.map((b) => {
        sim.step(b);
        return setOf(sim.tracker.clean(sim.clock.nowNs));
      });
    };
    const hap = dirtySets('hap');
    const pml = dirtySets('pml');
    if (available('shadow')) expect(dirtySets('shadow')).toEqual(hap);
    for (let r = 0; r < rounds.length; r++) {
      // Only the leaf table was written (pt_write, then the walker's A/D store); the upper tables were only read.
      expect(hap[r]!.filter((p) => tables.has(p))).toEqual([leafTable]);
      expect(hap[r]).toContain(2000 + r);
      expect(pml[r]).toEqual([...new Set([...hap[r]!, ...tables])].sort((a, b) => a - b));
    }
  });

  it('pml device writes mark dirty directly, without logging', () => {
    const sim = makeSim('pml', { p2m: '2m', superpages: 'logged-only' });
    sim.tracker.enable(0);
    sim.step(physWrites(new EventScript(), [515, 600], NO_VCPU));
    expect(sim.tracker.stats()).toMatchObject({ pmlLoggedEntries: 0 });
    expect(setOf(sim.tracker.peek(sim.clock.nowNs))).toEqual([515, 600]);
  });
});
