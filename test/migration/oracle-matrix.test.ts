// Checks DESIGN section 8 across the board: the oracle finds no lost page
// for any tracker, policy and workload, except PML `logged-only` on a guest
// backed by superpages, where it must find them; and PV page tables survive
// canonicalisation onto a new machine-frame map (and are caught when it is
// skipped).
import { describe, expect, it } from 'vitest';
import { guestSource } from '../../src/api/guest-source.js';
import { runMigration } from '../../src/api/run-migration.js';
import { POLICY_NAMES } from '../../src/reducers/migration/migration-options.js';
import type { TrackerName } from '../../src/reducers/tracker.js';

const WORKLOADS: [string, Record<string, string>][] = [
  ['hot-set', { rate: '100000' }],
  ['apache', {}],
  ['muncher', { rate: '20000' }],
  ['idle', {}],
  ['boot', { bootTime: '1s', mem: '96MiB', pageCache: '8MiB' }],
];
const GUESTS: ['hvm' | 'pv', TrackerName[]][] = [
  ['hvm', ['shadow', 'hap', 'pml']],
  ['pv', ['shadow']],
];

describe('no lost pages for every tracker, policy and workload', () => {
  for (const [workload, settings] of WORKLOADS) {
    for (const [guest, trackers] of GUESTS) {
      for (const tracker of trackers) {
        it(`${workload} on ${guest} under ${tracker}: every policy loses nothing`, () => {
          const source = guestSource(workload, { seed: 7, durationNs: 2.5e9, memBytes: 128 * 1024 * 1024, guest, paging: guest === 'pv' ? 'pae' : 'x86-64', settings });
          for (const policy of POLICY_NAMES) {
            const s = runMigration(source, { tracker, migration: { policy, startNs: 300e6, bandwidthBytesPerSec: 1.25e9 } });
            expect.soft(s.outcome, `${policy}: ${s.stopReason}`).toBe('completed');
            expect.soft(s.lostPages, `${policy} lost pages`).toBe(0);
            expect.soft(s.lostPtes, `${policy} lost page-table entries`).toBe(0);
          }
        });
      }
    }
  }

  it('pml logged-only on a superpage-backed guest loses pages, and the oracle counts them', () => {
    const source = guestSource('hot-set', { seed: 7, durationNs: 2e9, memBytes: 128 * 1024 * 1024, settings: { rate: '100000' } });
    const lost = runMigration(source, { tracker: 'pml', superpages: 'logged-only', p2m: '2m', migration: { policy: 'xen', startNs: 300e6 } });
    expect(lost.lostPages).toBeGreaterThan(0);
    expect(lost.firstLostPfns.length).toBeGreaterThan(0);
    for (const superpages of ['split', 'whole'] as const) {
      const ok = runMigration(source, { tracker: 'pml', superpages, p2m: '2m', migration: { policy: 'xen', startNs: 300e6 } });
      expect(ok.lostPages).toBe(0);
    }
  });
});

describe('PV canonicalisation', () => {
  const source = guestSource('boot', { seed: 3, durationNs: 2e9, memBytes: 128 * 1024 * 1024, guest: 'pv', paging: 'pae', settings: { bootTime: '1s', mem: '96MiB', pageCache: '8MiB' } });

  it('after checkpoint/restore onto a new machine-frame map every PTE resolves to the same pfn', () => {
    const s = runMigration(source, { tracker: 'direct', migration: { policy: 'checkpoint', startNs: 1.5e9 } });
    expect(s.lostPtes).toBe(0);
    expect(s.downtime.canonicaliseNs).toBeGreaterThan(0);
  });

  it('skipping canonicalisation leaves machine frames of the old host in the tables, and the oracle catches it', () => {
    const s = runMigration(source, { tracker: 'direct', migration: { policy: 'checkpoint', startNs: 1.5e9, skipCanonicalise: true } });
    expect(s.lostPtes).toBeGreaterThan(1000);
  });
});
