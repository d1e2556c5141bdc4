// Checks that the look-ahead of the walk loops (touch-ahead.ts: a block of
// events' leaf PTEs and per-page state loaded before the loop reaches them)
// changes speed only: a cache-hostile guest (a random muncher over 2 GiB, the
// size from which it is on by default) gives the same run events, byte for
// byte, and the same summary with it on and off, under the EPT loop (hap,
// pml), the reference path and shadow; and that the muncher, which draws
// its random pages some writes ahead to load their PTEs early, still writes
// them in the order its random stream gives them.
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { guestSource } from '../../src/api/guest-source.js';
import { runMigration } from '../../src/api/run-migration.js';
import { runRounds } from '../../src/api/run-rounds.js';
import { GuestEventKind } from '../../src/events/guest-event-kind.js';
import type { RunBatch } from '../../src/events/run-batch.js';
import { deriveStream } from '../../src/random/derive-stream.js';
import { Mmu } from '../../src/reducers/mmu.js';
import { LOOK_AHEAD_MIN_PAGES } from '../../src/reducers/touch-ahead.js';
import { configFromHeader } from '../../src/api/record.js';
import { drainSync } from '../../src/util/drain-sync.js';
import { findWorkload } from '../../src/workloads/registry.js';
import type { WorkloadStats } from '../../src/workloads/workload.js';
import { workloadEvents } from '../../src/workloads/workload-events.js';

function runDigest(): { sink: (b: RunBatch) => void; digest: () => string; events: () => number } {
  const h = createHash('sha256');
  let events = 0;
  const sink = (b: RunBatch) => {
    events += b.count;
    h.update(`${b.count} ${b.baseNs} ${b.endNs}\n`);
    for (const col of [b.kind, b.dtNs, b.vcpu, b.page, b.arg, b.costNs]) h.update(new Uint8Array(col.buffer, col.byteOffset, col.byteLength));
  };
  return { sink, digest: () => h.digest('hex'), events: () => events };
}

const GIB = 2 ** 30;
const RATE = 200_000;
const source = guestSource('muncher', { seed: 3, durationNs: 0.4e9, memBytes: 2 * GIB, settings: { pattern: 'random', rate: String(RATE) } });

describe('the look-ahead changes speed only', () => {
  it('is on by default from 2 GiB (the guest here), off below', () => {
    expect(new Mmu({ guest: 'hvm', paging: 'x86-64', memPages: source.header.guest.memPages, vcpus: 2, seed: 1 }).lookAhead).toBe(true);
    expect(new Mmu({ guest: 'hvm', paging: 'x86-64', memPages: LOOK_AHEAD_MIN_PAGES - 1, vcpus: 2, seed: 1 }).lookAhead).toBe(false);
  });

  for (const tracker of ['hap', 'pml', 'shadow', 'kvm-pml'] as const) {
    it(`a random 2 GiB muncher under ${tracker}: the same run events and summary with and without it, rounds and a migration`, () => {
      const on = runDigest();
      const off = runDigest();
      const a = runRounds(source, { tracker, roundNs: 50e6 }, on.sink);
      const b = runRounds(source, { tracker, roundNs: 50e6, lookAhead: false }, off.sink);
      expect(a).toEqual(b);
      expect(on.digest()).toBe(off.digest());
      // Not vacuous: the muncher's writes dirtied pages and took exits.
      expect(a.rounds.some((r) => r.dirtyPages > 1000)).toBe(true);
      expect(on.events()).toBeGreaterThan(100);
      const migration = { policy: tracker.startsWith('kvm-') ? ('qemu' as const) : ('xen' as const), startNs: 100e6, bandwidthBytesPerSec: 1.25e9 };
      const c = runDigest();
      const d = runDigest();
      expect(runMigration(source, { tracker, migration }, c.sink)).toEqual(runMigration(source, { tracker, migration, lookAhead: false }, d.sink));
      expect(c.digest()).toBe(d.digest());
    });
  }

  it('the reference path of hap (Tracker.process on every access) too', () => {
    const a = runRounds(source, { tracker: 'hap', eptLoop: false });
    const b = runRounds(source, { tracker: 'hap', eptLoop: false, lookAhead: false });
    expect(a).toEqual(b);
  });

  it('the random muncher writes its pages in the order of its random stream', () => {
    let stats: WorkloadStats = {};
    const vpns: number[] = [];
    drainSync(workloadEvents(findWorkload('muncher'), configFromHeader(source.header), (s) => (stats = s)), (b) => {
      for (let i = 0; i < b.count; i++) if (b.kind[i] === GuestEventKind.write && b.arg[i] === 4096) vpns.push(b.page[i]!);
    });
    // The munching writes are the last whole-page writes (the prologue's zero-fills come first).
    const written = stats['pagesWritten']!;
    const wssPages = stats['wssPages']!;
    expect(written).toBe(Math.floor(0.4 * RATE) + 1);
    const writes = vpns.slice(-written);
    // Each is the working set's base plus the next draw of the muncher's stream.
    const rng = deriveStream(3, 'muncher/pages');
    const offsets = new Set(writes.map((v) => v - rng.belowLarge(wssPages)));
    expect(offsets.size).toBe(1);
  });
});
