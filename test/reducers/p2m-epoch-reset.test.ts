// Checks that the p2m's gates stay one byte a page at any number of
// log-dirty operations: the epoch counts to P2M_EPOCH_MAX (255), then every
// entry is reset to 0 and counting starts again at 1, so no entry written
// before the reset passes for one of the new epoch; that every EPT tracker
// logs a page whose last write was exactly one cycle of epochs ago; and that
// they lose no page over rounds that cross several resets (the oracle
// compares every page after each round's CLEAN).
import { describe, expect, it } from 'vitest';
import { guestSource } from '../../src/api/guest-source.js';
import { runRounds } from '../../src/api/run-rounds.js';
import { P2M_EPOCH_MAX, P2mTable } from '../../src/reducers/p2m-table.js';
import type { TrackerName } from '../../src/reducers/tracker.js';
import { EventScript } from '../helpers/mmu-script.js';
import { makeTrackerSim, physWrites, setOf } from '../helpers/tracker-sim.js';

describe('the p2m epoch in a byte', () => {
  it('after P2M_EPOCH_MAX type changes the epoch starts again at 1 with every entry older than it', () => {
    const p2m = new P2mTable(3 * 512 + 7, '4k');
    for (let i = 0; i < P2M_EPOCH_MAX; i++) p2m.retypeAll();
    expect(p2m.epoch).toBe(P2M_EPOCH_MAX);
    // Entries written in the last epoch before the reset, and in epoch 1 of the first cycle.
    p2m.writableEpoch[5] = p2m.epoch;
    p2m.writableEpoch[3 * 512 + 6] = 1;
    p2m.recalc(600, true);
    expect(p2m.recalcEpoch[1]).toBe(P2M_EPOCH_MAX);
    p2m.retypeAll();
    expect(p2m.epoch).toBe(1);
    expect(p2m.epochCount).toBe(P2M_EPOCH_MAX + 1);
    expect(Array.from(p2m.writableEpoch).every((e) => e === 0)).toBe(true);
    expect(Array.from(p2m.recalcEpoch).every((e) => e === 0)).toBe(true);
    // The new cycle counts as the first did.
    p2m.recalc(600, false);
    expect(p2m.writableEpoch[600]).toBe(1);
    p2m.retypeAll();
    expect(p2m.epoch).toBe(2);
  });

  // A page written in some epoch and not again until the epoch's byte comes
  // round to the same value (255 CLEANs later): its entry must have been
  // reset, or the write would pass its gate unlogged.
  for (const tracker of ['hap', 'pml', 'kvm-wp', 'kvm-pml', 'kvm-ring'] as TrackerName[]) {
    it(`${tracker} logs a page written again exactly P2M_EPOCH_MAX CLEANs after its last write`, () => {
      // KVM's GET re-protects what it reports (no manual protect), as Xen's CLEAN does.
      const sim = makeTrackerSim(tracker, { p2m: '4k', memPages: 4096, vcpus: 1, kvm: { manualProtect: false } });
      const script = new EventScript();
      sim.tracker.enable(0);
      sim.step(physWrites(script, [7, 9]));
      expect(setOf(sim.tracker.clean(sim.clock.nowNs))).toEqual([7, 9]);
      for (let i = 1; i < P2M_EPOCH_MAX; i++) {
        sim.step(physWrites(script, [9]));
        expect(setOf(sim.tracker.clean(sim.clock.nowNs))).toEqual([9]);
      }
      sim.step(physWrites(script, [7, 9]));
      expect(setOf(sim.tracker.clean(sim.clock.nowNs))).toEqual([7, 9]);
      expect(sim.finish().lostPages).toBe(0);
    });
  }

  // 1 ms rounds over 0.9 s of apache: about 850 CLEANs, three resets.
  for (const tracker of ['hap', 'pml', 'kvm-wp', 'kvm-pml', 'kvm-ring'] as TrackerName[]) {
    it(`${tracker} loses no page over 850 one-millisecond rounds of apache (three epoch resets)`, () => {
      const source = guestSource('apache', { seed: 2, durationNs: 1e9, memBytes: 256 * 1024 * 1024 });
      const s = runRounds(source, { tracker, roundNs: 1e6, startNs: 1e8 });
      expect(s.rounds.length).toBeGreaterThan(3 * P2M_EPOCH_MAX);
      expect(s.lostPages).toBe(0);
    });
  }
});
