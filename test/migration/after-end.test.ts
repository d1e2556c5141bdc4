// A migration does not stop because the guest's events end: with
// `afterEnd: 'idle'` (the default) the guest runs on idle and the migration
// goes on to its end; with 'stop' the run ends with the events, incomplete.
import { describe, expect, it } from 'vitest';
import { guestSource } from '../../src/api/guest-source.js';
import { runMigration } from '../../src/api/run-migration.js';

// 200 ms of hot-set on 64 MiB: a 1 Gbit/s first pass alone takes 0.54 s.
const source = () => guestSource('hot-set', { seed: 1, durationNs: 200e6, memBytes: 64 * 1024 * 1024, vcpus: 2, guest: 'hvm', paging: 'x86-64', settings: {} });

describe('after the guest events end', () => {
  it('a capture shorter than the migration completes under every tracker with idle, with the same outcome under each', () => {
    for (const tracker of ['shadow', 'hap', 'pml'] as const) {
      const s = runMigration(source(), { tracker, migration: { policy: 'xen', startNs: 50e6 } });
      expect(s.outcome, tracker).toBe('completed');
      expect(s.afterEndNs, tracker).toBeGreaterThan(0);
      expect(s.lostPages, tracker).toBe(0);
      // The guest's slowdown is over its events: the idle time after them slowed nothing.
      expect(s.slowdown, tracker).toBeLessThan(1);
    }
  });

  it('stop ends the run with the guest events: incomplete, with the pages still to send', () => {
    const s = runMigration(source(), { tracker: 'hap', migration: { policy: 'xen', startNs: 50e6, afterEnd: 'stop' } });
    expect(s.outcome).toBe('incomplete');
    expect(s.afterEndNs).toBe(0);
    expect(s.remainingPages).toBeGreaterThan(0);
  });
});
