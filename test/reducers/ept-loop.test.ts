// Checks that the EPT loop (runUnderEpt in ept-run.ts: walk, EPT checks, oracle
// and clock fused in one pass, exits handed to the tracker in place) gives
// exactly what the reference path gives (applyRange, then Tracker.process on
// every access): the same rounds, exits, stalls, dirty sets and run events,
// byte for byte, for HAP and PML, under log-dirty rounds and under every
// migration policy (QEMU's auto-converge throttle switches a run between
// the two paths as it goes), and for the events the loop hands back to that
// path (a hand-written guest: A/D bits to set, guest faults, stores into
// page-table pages, an access before CR3), which no built-in workload makes.
import { describe, expect, it, vi } from 'vitest';
import { Mmu } from '../../src/reducers/mmu.js';
import { guestSource } from '../../src/api/guest-source.js';
import { runMigration } from '../../src/api/run-migration.js';
import { runRounds } from '../../src/api/run-rounds.js';
import { POLICY_NAMES } from '../../src/reducers/migration/migration-options.js';
import { handWrittenGuest } from '../helpers/hand-written-guest.js';
import { runDigest } from '../helpers/run-digest.js';

const MEM = 128 * 1024 * 1024;
const CASES: [string, Record<string, string>, '4k' | '2m'][] = [
  ['apache', {}, '2m'],
  ['muncher', { rate: '20000', pattern: 'random' }, '2m'],
  ['boot', { bootTime: '1s', mem: '96MiB', pageCache: '8MiB' }, '4k'],
  ['hot-set', { rate: '100000' }, '2m'],
];

describe('the EPT loop matches the reference path', () => {
  for (const [workload, settings, p2m] of CASES) {
    for (const tracker of ['hap', 'pml'] as const) {
      it(`${workload} under ${tracker}, 100 ms log-dirty rounds`, () => {
        const source = guestSource(workload, { seed: 5, durationNs: 2e9, memBytes: MEM, settings });
        const fast = runDigest();
        const ref = runDigest();
        const a = runRounds(source, { tracker, p2m }, fast.sink);
        const b = runRounds(source, { tracker, p2m, eptLoop: false }, ref.sink);
        expect(a.exits).toEqual(b.exits);
        expect(a).toEqual(b);
        expect(fast.digest()).toBe(ref.digest());
        // Not a vacuous comparison: the run took exits and dirtied pages.
        expect(a.rounds.some((r) => r.dirtyPages > 0)).toBe(true);
        expect(Object.values(a.exits).reduce((n, e) => n + e.count, 0)).toBeGreaterThan(100);
      });
    }
  }

  for (const tracker of ['hap', 'pml', 'kvm-pml', 'kvm-ring'] as const) {
    it(`${tracker}: what the loop hands back (A/D bits to set, guest faults, stores into tables, no CR3 yet) gives the same bytes`, () => {
      // The built-in workloads' kernels set A/D bits themselves and never
      // fault, so their runs hardly leave the loop: this guest, written by
      // hand, makes every kind of event it stops at.
      const source = handWrittenGuest();
      const fast = runDigest();
      const ref = runDigest();
      // Under the loop, the MMU applies an event itself only when the loop hands it back (one event at a time).
      const applyRange = vi.spyOn(Mmu.prototype, 'applyRange');
      let handedBack: number;
      let a: ReturnType<typeof runRounds>;
      try {
        a = runRounds(source, { tracker, roundNs: 40_000 }, fast.sink);
        handedBack = applyRange.mock.calls.filter(([, from, to]) => to === from + 1).length;
      } finally {
        applyRange.mockRestore();
      }
      expect(handedBack).toBeGreaterThan(1000);
      const b = runRounds(source, { tracker, roundNs: 40_000, eptLoop: false }, ref.sink);
      expect(a).toEqual(b);
      expect(fast.digest()).toBe(ref.digest());
      expect(a.rounds.length).toBeGreaterThan(3);
      expect(a.rounds.some((r) => r.dirtyPages > 0)).toBe(true);
    });
  }

  it('pml with superpages whole and logged-only (the lost pages too)', () => {
    const source = guestSource('hot-set', { seed: 5, durationNs: 1.5e9, memBytes: MEM, settings: { rate: '100000' } });
    for (const superpages of ['whole', 'logged-only'] as const) {
      const a = runRounds(source, { tracker: 'pml', p2m: '2m', superpages });
      const b = runRounds(source, { tracker: 'pml', p2m: '2m', superpages, eptLoop: false });
      expect(a).toEqual(b);
    }
  });

  for (const tracker of ['hap', 'pml'] as const) {
    it(`apache under ${tracker}: every policy migrates identically (state digest included)`, () => {
      const source = guestSource('apache', { seed: 9, durationNs: 2e9, memBytes: MEM });
      for (const policy of POLICY_NAMES) {
        const migration = { policy, startNs: 500e6, bandwidthBytesPerSec: 1.25e8, autoConverge: true };
        const fast = runDigest();
        const ref = runDigest();
        const a = runMigration(source, { tracker, migration }, fast.sink);
        const b = runMigration(source, { tracker, migration, eptLoop: false }, ref.sink);
        expect(a, policy).toEqual(b);
        expect(fast.digest(), policy).toBe(ref.digest());
      }
    });
  }

  it('muncher under hap with QEMU auto-converge: the throttle moves the run between paths', () => {
    const source = guestSource('muncher', { seed: 5, durationNs: 4e9, memBytes: 32 * 1024 * 1024, settings: { rate: '20000', pattern: 'random' } });
    const migration = { policy: 'qemu' as const, startNs: 200e6, bandwidthBytesPerSec: 3e7, autoConverge: true };
    const fast = runDigest();
    const ref = runDigest();
    const a = runMigration(source, { tracker: 'hap', migration }, fast.sink);
    const b = runMigration(source, { tracker: 'hap', migration, eptLoop: false }, ref.sink);
    expect(a.throttleSteps.length).toBeGreaterThan(0);
    expect(a).toEqual(b);
    expect(fast.digest()).toBe(ref.digest());
  });

  it("KVM's trackers under QEMU's pre-copy migrate identically on both paths (manual protect, GET, the ring under dirty-limit)", () => {
    const source = guestSource('apache', { seed: 9, durationNs: 2e9, memBytes: MEM });
    const migration = { policy: 'qemu' as const, startNs: 500e6, bandwidthBytesPerSec: 1.25e8, maxBandwidthBytesPerSec: 16 << 20 };
    const cases = [
      { tracker: 'kvm-wp' as const, kvm: { manualProtect: true, clearBitmapShift: 10, eagerPageSplit: false } },
      { tracker: 'kvm-pml' as const, kvm: { manualProtect: false } },
      { tracker: 'kvm-ring' as const, kvm: { dirtyRingSize: 1024, dirtyLimitBytesPerSec: 8 << 20 } },
    ];
    for (const { tracker, kvm } of cases) {
      const fast = runDigest();
      const ref = runDigest();
      const a = runMigration(source, { tracker, p2m: '2m', kvm, migration }, fast.sink);
      const b = runMigration(source, { tracker, p2m: '2m', kvm, migration, eptLoop: false }, ref.sink);
      expect(a, tracker).toEqual(b);
      expect(fast.digest(), tracker).toBe(ref.digest());
      // Not vacuous: exits were taken (PML's are few: one per 512 pages) and pages dirtied.
      expect(Object.values(a.exits).reduce((n, e) => n + e.count, 0), tracker).toBeGreaterThan(0);
      expect(a.rounds.some((r) => r.dirtyPages > 0), tracker).toBe(true);
    }
  });
});
