// A migration does not stop because the guest's events end: with
// `afterEnd: 'idle'` (the default) the guest runs on idle and the migration
// goes on to its end; with 'loop' the guest's events run again, shifted in
// time, until it completes; with 'stop' the run ends with the events,
// incomplete.
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { guestSource } from '../../src/api/guest-source.js';
import { recordRun } from '../../src/api/record-run.js';
import { runMigration } from '../../src/api/run-migration.js';
import { replayRunVerify } from '../../src/verify/replay-run.js';
import { tempDir } from '../helpers/temp-dir.js';

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

  it('loop replays the guest events, shifted by their span, until the migration completes, under every tracker; its run trace replays identically', () => {
    const events = runMigration(source(), { tracker: 'hap', migration: { policy: 'xen', startNs: 50e6, afterEnd: 'stop' } }).guestEvents;
    for (const tracker of ['shadow', 'hap', 'pml'] as const) {
      const s = runMigration(source(), { tracker, migration: { policy: 'xen', startNs: 50e6, afterEnd: 'loop' } });
      expect(s.outcome, tracker).toBe('completed');
      expect(s.lostPages, tracker).toBe(0);
      expect(s.afterEnd).toBe('loop');
      // A 0.54 s first pass from 50 ms on a 200 ms capture: at least two replays.
      expect(s.afterEndLoops, tracker).toBeGreaterThanOrEqual(2);
      expect(s.afterEndNs, tracker).toBeGreaterThan(0);
      // The replays are guest events, folded like the first pass (the last one only until the resume).
      expect(s.guestEvents, tracker).toBeGreaterThan(events * s.afterEndLoops);
      expect(s.guestEvents, tracker).toBeLessThanOrEqual(events * (s.afterEndLoops + 1));
      // Unlike an idle guest, the replayed one dirties pages while the passes after the capture run.
      const after = s.rounds.filter((r) => r.startNs > 200e6 && r.dirtyPages > 0);
      expect(after.length, tracker).toBeGreaterThan(0);
    }
    const file = join(tempDir(), 'loop.mst');
    const { summary } = recordRun(source(), { tracker: 'pml', migration: { policy: 'xen', startNs: 50e6, afterEnd: 'loop' } }, file);
    expect(summary.afterEndLoops).toBeGreaterThanOrEqual(2);
    const r = replayRunVerify(file);
    expect(r.identical).toBe(true);
    expect(r.summaryIdentical).toBe(true);
  });

  it('stop ends the run with the guest events: incomplete, with the pages still to send', () => {
    const s = runMigration(source(), { tracker: 'hap', migration: { policy: 'xen', startNs: 50e6, afterEnd: 'stop' } });
    expect(s.outcome).toBe('incomplete');
    expect(s.afterEndNs).toBe(0);
    expect(s.remainingPages).toBeGreaterThan(0);
  });
});
