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
import { from } from 'rxjs';
import { describe, expect, it, vi } from 'vitest';
import type { GuestSource } from '../../src/api/guest-source.js';
import { NO_VCPU } from '../../src/events/guest-event-kind.js';
import { vpnOf } from '../../src/model/paging.js';
import { PTE_A, PTE_D, PTE_RW, PTE_US } from '../../src/model/pte.js';
import { testTraceHeader } from '../helpers/custom-source.js';
import { guestSource } from '../../src/api/guest-source.js';
import { runMigration } from '../../src/api/run-migration.js';
import { runRounds } from '../../src/api/run-rounds.js';
import { POLICY_NAMES } from '../../src/reducers/migration/migration-options.js';
import { ShadowTracker } from '../../src/reducers/tracker-shadow.js';
import { EventScript, PageTableWriter } from '../helpers/mmu-script.js';
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

/**
 * An HVM x86-64 guest of 8,192 pages and two vCPUs, written event by event:
 * two address spaces sharing an upper table, 4 KiB mappings without A/D
 * bits (each first access sets them), a 2 MiB mapping, a mapping of a
 * page-table page (stores into it are emulated), accesses to unmapped
 * pages (guest faults), one before its vCPU's first CR3 load, remappings,
 * unmappings, phys_writes and idles, in a seeded random order.
 */
function handWrittenGuest(): GuestSource {
  const script = new EventScript();
  const pt = new PageTableWriter(script, 'x86-64', 4096);
  const roots = [pt.allocPage(), pt.allocPage()];
  const vpns: number[] = [];
  for (let k = 0; k < 96; k++) {
    const vpn = vpnOf('x86-64', [1, 2, k >> 5, k & 31]);
    vpns.push(vpn);
    pt.map(roots[0]!, vpn, 16 + k, PTE_RW | PTE_US);
  }
  const big = vpnOf('x86-64', [1, 3, 0, 0]);
  pt.map(roots[0]!, big, 1024, PTE_RW | PTE_US | PTE_A | PTE_D, { pages: 512 });
  const l3 = pt.tableAt(roots[0]!, vpns[0]!, 3)!;
  pt.link(roots[1]!, 1, l3);
  const tableVpn = vpnOf('x86-64', [1, 2, 7, 0]);
  pt.map(roots[0]!, tableVpn, pt.tableAt(roots[0]!, vpns[0]!, 1)!, PTE_RW | PTE_US);
  const unmapped = vpnOf('x86-64', [1, 2, 9, 5]);
  script.write(1, vpns[0]!);
  script.cr3Load(0, roots[0]!).cr3Load(1, roots[1]!);
  let x = 12345;
  const next = (n: number) => {
    x = (Math.imul(x, 1103515245) + 12345) >>> 0;
    return (x >>> 8) % n;
  };
  for (let e = 0; e < 30_000; e++) {
    const v = next(2);
    const r = next(100);
    const vpn = vpns[next(vpns.length)]!;
    if (r < 40) script.write(v, vpn);
    else if (r < 60) script.read(v, vpn);
    else if (r < 70) (r & 1 ? script.write(v, big + next(512)) : script.read(v, big + next(512)));
    else if (r < 73) script.write(v, tableVpn);
    else if (r < 75) script.read(v, unmapped);
    else if (r < 82) pt.map(roots[0]!, vpn, 16 + next(2000), PTE_RW | PTE_US | (r & 1 ? PTE_A : 0));
    else if (r < 84) pt.unlink(pt.tableAt(roots[0]!, vpn, 1)!, vpn & 511);
    else if (r < 87) script.cr3Load(v, roots[next(2)]!);
    else if (r < 90) script.physWrite(16 + next(2000), 4096, r & 1 ? NO_VCPU : v);
    else if (r < 93) script.idle(v);
    else script.write(v, vpn).read(v, vpn);
  }
  const batch = script.take();
  const header = testTraceHeader({ type: 'hvm', paging: 'x86-64', memPages: 8192, vcpus: 2 }, { name: 'hand-written', seed: 1, durationNs: batch.endNs, params: {} });
  return { header, label: 'hand-written', events: () => from([batch]) };
}

