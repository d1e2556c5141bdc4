// Checks the shadow tracker's out-of-sync option (Xen's SHOPT_OUT_OF_SYNC:
// sh_unsync / sh_resync): repeated writes to an L1 page table go native
// after one unsync fault instead of being emulated one by one, the vCPU's
// next CR3 load resyncs them, only HVM guests get it, and nothing is lost.
import { describe, expect, it } from 'vitest';
import { guestSource } from '../../src/api/guest-source.js';
import { runMigration } from '../../src/api/run-migration.js';
import { runRounds } from '../../src/api/run-rounds.js';

const apache = (guest: 'hvm' | 'pv') =>
  guestSource('apache', { seed: 3, durationNs: 2e9, memBytes: 256 * 1024 * 1024, guest, paging: guest === 'pv' ? 'pae' : 'x86-64' });

describe('shadow out-of-sync L1s', () => {
  it('L1 writes go native after one unsync fault, and CR3 loads resync them: fewer emulations', () => {
    const plain = runRounds(apache('hvm'), { tracker: 'shadow' });
    const oos = runRounds(apache('hvm'), { tracker: 'shadow', shadowOos: true });
    const st = oos.trackerStats;
    expect(st['ptWritesNative']).toBeGreaterThan(0);
    expect(st['oosUnsyncs']).toBeGreaterThan(0);
    expect(st['oosResyncs']).toBeGreaterThan(0);
    // Every L1 write is either emulated, the unsync fault, or native.
    expect(st['ptWritesEmulated']! + st['oosUnsyncs']! + st['ptWritesNative']!).toBe(plain.trackerStats['ptWritesEmulated']);
    // Writes that fill a table before it is linked (no L1 yet) are still emulated.
    expect(oos.exits['pt_emulate']!.count).toBeLessThan(plain.exits['pt_emulate']!.count * 0.8);
    expect(oos.exits['oos_resync']!.count).toBe(st['oosResyncs']);
    expect(oos.stallNs).toBeLessThan(plain.stallNs);
    expect(oos.lostPages).toBe(0);
  });

  it('a PV guest never goes out of sync (Xen refuses it): every page-table write is emulated', () => {
    const plain = runRounds(apache('pv'), { tracker: 'shadow' });
    const oos = runRounds(apache('pv'), { tracker: 'shadow', shadowOos: true });
    expect(oos.exits['pt_emulate']!.count).toBe(plain.exits['pt_emulate']!.count);
    expect(oos.trackerStats['oosUnsyncs']).toBeUndefined();
  });

  it('a migration with OOS loses no page and slows the guest less', () => {
    const opts = { tracker: 'shadow' as const, migration: { startNs: 1e9 } };
    const plain = runMigration(apache('hvm'), opts);
    const oos = runMigration(apache('hvm'), { ...opts, shadowOos: true });
    expect(oos.outcome).toBe('completed');
    expect(oos.lostPages).toBe(0);
    expect(oos.migrationStallNs).toBeLessThan(plain.migrationStallNs);
  });
});
