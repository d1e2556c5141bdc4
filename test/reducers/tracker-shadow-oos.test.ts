// Checks the shadow tracker's out-of-sync option (Xen's SHOPT_OUT_OF_SYNC:
// sh_unsync / sh_resync): repeated writes to an L1 page table go native
// after one unsync fault instead of being emulated one by one, the vCPU's
// next CR3 load resyncs them, only HVM guests get it, and nothing is lost.
import { describe, expect, it } from 'vitest';
import { guestSource } from '../../src/api/guest-source.js';
import { runMigration } from '../../src/api/run-migration.js';
import { runRounds } from '../../src/api/run-rounds.js';
import type { GuestSource } from '../../src/api/guest-source.js';
import { copyGuestBatch, type GuestBatch, sliceGuestBatch } from '../../src/events/guest-batch.js';
import { concatMap, of } from 'rxjs';

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

// The trackers run over chunks of events the MMU has already applied, so
// the out-of-sync rule's question "is this page an L1 now?" must be the
// MMU's answer at the write (ACCESS_LEAF_TABLE), not its state at the
// chunk's end: there, a table filled before it is linked, in the chunk that
// links it, would already look like an L1 and unsync, and the result would
// depend on where the chunks end. Re-cut into batches of 3 events (every
// chunk then ends elsewhere), the run must count the same.
describe('shadow out-of-sync and chunking', () => {
  it('unsyncs, resyncs and native writes do not depend on where batches and chunks end', () => {
    const whole = apache('hvm');
    const recut: GuestSource = { header: whole.header, label: whole.label, events: () => whole.events().pipe(concatMap((b) => of(...pieces(b, 3)))) };
    const a = runRounds(whole, { tracker: 'shadow', shadowOos: true });
    const b = runRounds(recut, { tracker: 'shadow', shadowOos: true });
    expect(a.trackerStats['oosUnsyncs']).toBeGreaterThan(0);
    expect(b.trackerStats).toEqual(a.trackerStats);
    expect(b.exits).toEqual(a.exits);
  });
});

/** A batch as views of `size` events each, each slice's times its own (baseNs: the event before it). */
function pieces(b: GuestBatch, size: number): GuestBatch[] {
  const out: GuestBatch[] = [];
  let t = b.baseNs;
  for (let from = 0; from < b.count; from += size) {
    const to = Math.min(b.count, from + size);
    let end = t;
    for (let i = from; i < to; i++) end += b.dtNs[i]!;
    out.push(copyGuestBatch(sliceGuestBatch(b, from, to, t, end)));
    t = end;
  }
  return out;
}
