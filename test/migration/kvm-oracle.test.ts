// Checks DESIGN section 8 for KVM's trackers under QEMU's pre-copy: the
// oracle finds no lost page with manual protect on and off, eager splitting
// on and off, on 4 KiB and 2 MiB backing, and for the dirty ring at its
// smallest size and under dirty-limit; and that KVM's trackers refuse the
// pairings the real systems refuse.
import { describe, expect, it } from 'vitest';
import { guestSource } from '../../src/api/guest-source.js';
import { runMigration } from '../../src/api/run-migration.js';
import { runRounds } from '../../src/api/run-rounds.js';
import type { KvmOptions } from '../../src/reducers/kvm-options.js';
import type { P2mPageSize, TrackerName } from '../../src/reducers/tracker.js';
import { join } from 'node:path';
import { recordRun } from '../../src/api/record-run.js';
import { replayVerify } from '../../src/verify/replay.js';
import { tempDir } from '../helpers/temp-dir.js';

const WORKLOADS: [string, Record<string, string>][] = [
  ['hot-set', { rate: '200000' }],
  ['apache', {}],
  ['muncher', { rate: '40000' }],
];

const CASES: [TrackerName, P2mPageSize, Partial<KvmOptions>][] = [
  ['kvm-wp', '2m', { manualProtect: true }],
  ['kvm-wp', '2m', { manualProtect: false, eagerPageSplit: false }],
  ['kvm-wp', '4k', { manualProtect: true, clearBitmapShift: 6 }],
  ['kvm-pml', '2m', { manualProtect: true, eagerPageSplit: false }],
  ['kvm-pml', '2m', { manualProtect: false }],
  ['kvm-pml', '4k', { manualProtect: true, clearBitmapShift: 10 }],
  ['kvm-ring', '2m', { dirtyRingSize: 1024 }],
  ['kvm-ring', '2m', { dirtyRingSize: 4096, eagerPageSplit: false }],
  ['kvm-ring', '4k', { dirtyRingSize: 1024, dirtyLimitBytesPerSec: 4 << 20 }],
];

describe('no lost pages under KVM trackers and QEMU pre-copy', () => {
  for (const [workload, settings] of WORKLOADS) {
    it(`${workload}: every KVM tracker and setting loses nothing`, () => {
      const source = guestSource(workload, { seed: 11, durationNs: 2.5e9, memBytes: 128 * 1024 * 1024, settings });
      for (const [tracker, p2m, kvm] of CASES) {
        const s = runMigration(source, { tracker, p2m, kvm, migration: { policy: 'qemu', startNs: 300e6, maxBandwidthBytesPerSec: 64 << 20 } });
        const what = `${tracker} ${p2m} ${JSON.stringify(kvm)}`;
        expect.soft(s.outcome, `${what}: ${s.stopReason}`).toBe('completed');
        expect.soft(s.lostPages, `${what} lost pages`).toBe(0);
      }
    });
  }

  it('KVM trackers take HVM guests and the qemu policy only, and dirty-limit needs the ring', () => {
    const hvm = guestSource('hot-set', { seed: 1, durationNs: 1e9, memBytes: 64 * 1024 * 1024 });
    expect(() => runMigration(hvm, { tracker: 'kvm-pml', migration: { policy: 'xen', startNs: 1e8 } })).toThrow(/QEMU drives/);
    expect(() => runMigration(hvm, { tracker: 'kvm-pml', kvm: { dirtyLimitBytesPerSec: 1 << 20 }, migration: { policy: 'qemu', startNs: 1e8 } })).toThrow(/dirty ring/);
    const pv = guestSource('hot-set', { seed: 1, durationNs: 1e9, memBytes: 64 * 1024 * 1024, guest: 'pv', paging: 'pae' });
    expect(() => runMigration(pv, { tracker: 'kvm-wp', migration: { policy: 'qemu', startNs: 1e8 } })).toThrow(/HVM/);
  });

  it('a KVM run trace records its KVM options and replays identical (dirty-limit sleeps, clears and ring exits re-derived)', () => {
    const dir = tempDir();
    const source = guestSource('muncher', { seed: 3, durationNs: 3e9, memBytes: 128 * 1024 * 1024, vcpus: 2, settings: { rate: '100000' } });
    const runs: [string, TrackerName, Partial<KvmOptions>][] = [
      ['ring.mst', 'kvm-ring', { dirtyRingSize: 1024, dirtyLimitBytesPerSec: 20 << 20 }],
      ['wp.mst', 'kvm-wp', { manualProtect: true, clearBitmapShift: 12, eagerPageSplit: false }],
    ];
    for (const [name, tracker, kvm] of runs) {
      const out = join(dir, name);
      const { summary } = recordRun(source, { tracker, p2m: '2m', kvm, migration: { policy: 'qemu', startNs: 500e6, maxBandwidthBytesPerSec: 32 << 20 } }, out);
      expect(summary.lostPages).toBe(0);
      expect(replayVerify(out).identical, name).toBe(true);
    }
  });

  it('log-dirty rounds report the same dirty sets with manual protect (every chunk cleared after each GET) as with GET re-protecting', () => {
    const source = guestSource('apache', { seed: 2, durationNs: 2e9, memBytes: 128 * 1024 * 1024 });
    const manual = runRounds(source, { tracker: 'kvm-wp', kvm: { manualProtect: true }, roundNs: 200e6, startNs: 500e6 });
    const get = runRounds(source, { tracker: 'kvm-wp', kvm: { manualProtect: false }, roundNs: 200e6, startNs: 500e6 });
    expect(manual.rounds.map((r) => r.dirtyPages)).toEqual(get.rounds.map((r) => r.dirtyPages));
    expect(manual.rounds.some((r) => r.dirtyPages > 0)).toBe(true);
    expect(manual.lostPages).toBe(0);
  });
});
