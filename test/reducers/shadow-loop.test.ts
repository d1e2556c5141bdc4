// Checks that shadow's own event loops (runUnderShadow in shadow-run.ts, the
// loop fused with the MMU's walk that runs HVM x86-64 guests, and
// ShadowTracker.processShadow in tracker-shadow.ts, which runs the rest and
// the events the fused loop hands back: the writes and reads that cost the
// hypervisor nothing settled in the loop) give exactly what the reference
// path gives (Tracker.process calling the hooks on every
// access, `eptLoop: false`): the same rounds, exits, stalls, dirty sets and
// run events, byte for byte, for HVM and PV guests, with and without
// out-of-sync L1s, with the look-ahead on and off, and under every
// migration policy (QEMU's auto-converge throttle moves a run between the
// loop and Tracker.process as it goes).
import { describe, expect, it, vi } from 'vitest';
import { guestSource } from '../../src/api/guest-source.js';
import { runMigration } from '../../src/api/run-migration.js';
import { runRounds } from '../../src/api/run-rounds.js';
import { POLICY_NAMES } from '../../src/reducers/migration/migration-options.js';
import { ShadowTracker } from '../../src/reducers/tracker-shadow.js';
import { handWrittenGuest } from '../helpers/hand-written-guest.js';
import { runDigest } from '../helpers/run-digest.js';

const MEM = 128 * 1024 * 1024;
type Guest = { guest?: 'hvm' | 'pv'; paging?: 'x86-64' | 'pae' };
const CASES: [string, Record<string, string>, Guest][] = [
  ['apache', {}, {}],
  ['apache', {}, { guest: 'pv', paging: 'pae' }],
  ['muncher', { rate: '20000', pattern: 'random' }, {}],
  ['muncher', { rate: '20000', pattern: 'random' }, { guest: 'pv', paging: 'x86-64' }],
  ['boot', { bootTime: '1s', mem: '96MiB', pageCache: '8MiB' }, {}],
  ['hot-set', { rate: '100000' }, {}],
];

describe("shadow's loop matches the reference path", () => {
  for (const [workload, settings, guest] of CASES) {
    for (const shadowOos of [false, true]) {
      for (const lookAhead of [false, true]) {
        const name = `${workload} (${guest.guest ?? 'hvm'} ${guest.paging ?? 'x86-64'}), out-of-sync ${shadowOos ? 'on' : 'off'}, look-ahead ${lookAhead ? 'on' : 'off'}, 100 ms log-dirty rounds`;
        it(name, () => {
          const source = guestSource(workload, { seed: 5, durationNs: 1.5e9, memBytes: MEM, settings, ...guest });
          const fast = runDigest();
          const ref = runDigest();
          const a = runRounds(source, { tracker: 'shadow', shadowOos, lookAhead }, fast.sink);
          const b = runRounds(source, { tracker: 'shadow', shadowOos, lookAhead, eptLoop: false }, ref.sink);
          expect(a.exits).toEqual(b.exits);
          expect(a).toEqual(b);
          expect(fast.digest()).toBe(ref.digest());
          // Not a vacuous comparison: the run took shadow faults and dirtied pages.
          expect(a.rounds.some((r) => r.dirtyPages > 0)).toBe(true);
          expect(a.exits['shadow_fault']?.count ?? 0).toBeGreaterThan(10);
        });
      }
    }
  }

  it('apache under shadow: every policy migrates identically (state digest included)', () => {
    const source = guestSource('apache', { seed: 9, durationNs: 2e9, memBytes: MEM });
    for (const policy of POLICY_NAMES) {
      const migration = { policy, startNs: 500e6, bandwidthBytesPerSec: 1.25e8, autoConverge: true };
      const fast = runDigest();
      const ref = runDigest();
      const a = runMigration(source, { tracker: 'shadow', migration }, fast.sink);
      const b = runMigration(source, { tracker: 'shadow', migration, eptLoop: false }, ref.sink);
      expect(a, policy).toEqual(b);
      expect(fast.digest(), policy).toBe(ref.digest());
    }
  });

  it('the fused loop hands back what it does not finish (A/D bits to set, guest faults, stores into tables, no CR3 yet), with the same bytes', () => {
    // The built-in workloads' kernels set A/D bits themselves and never
    // fault, so their runs stay in the fused loop: this guest, written by
    // hand, makes every kind of event it leaves to applyRange and process.
    const fused = vi.spyOn(ShadowTracker.prototype, 'runFused');
    const process = vi.spyOn(ShadowTracker.prototype, 'process');
    try {
      const source = handWrittenGuest();
      const fast = runDigest();
      const ref = runDigest();
      const a = runRounds(source, { tracker: 'shadow', roundNs: 40_000 }, fast.sink);
      const calls = { fused: fused.mock.calls.length, process: process.mock.calls.length };
      const b = runRounds(source, { tracker: 'shadow', roundNs: 40_000, eptLoop: false }, ref.sink);
      expect(a).toEqual(b);
      expect(fast.digest()).toBe(ref.digest());
      expect(calls.fused).toBeGreaterThan(10);
      expect(calls.process).toBeGreaterThan(100);
      expect(a.exits['shadow_fault']?.count ?? 0).toBeGreaterThan(100);
      expect(a.exits['pt_emulate']?.count ?? 0).toBeGreaterThan(100);
      expect(a.rounds.length).toBeGreaterThan(3);
      // A PV guest's frames are machine frames: it stays in processShadow.
      fused.mockClear();
      runRounds(guestSource('apache', { seed: 5, durationNs: 0.5e9, memBytes: MEM, guest: 'pv', paging: 'x86-64' }), { tracker: 'shadow' });
      expect(fused).not.toHaveBeenCalled();
    } finally {
      fused.mockRestore();
      process.mockRestore();
    }
  });

  it('the random muncher over 3 GiB (the look-ahead on by default), migrated by xen', () => {
    const source = guestSource('muncher', { seed: 1, durationNs: 0.4e9, memBytes: 3 * 2 ** 30, settings: { rate: '1500000', pattern: 'random' } });
    const fast = runDigest();
    const ref = runDigest();
    const a = runMigration(source, { tracker: 'shadow' }, fast.sink);
    const b = runMigration(source, { tracker: 'shadow', eptLoop: false }, ref.sink);
    expect(a).toEqual(b);
    expect(fast.digest()).toBe(ref.digest());
    expect(a.exits['shadow_fault']?.count ?? 0).toBeGreaterThan(1000);
  });
});
