// Checks the Gantt's phases of a migration from its result: queued, then
// pre-copy up to the stop, then the downtime; for post-copy the switch's
// downtime and then post-copy to the last page; the bars tile the
// migration from its request to its end with no gap.
import { describe, expect, it } from 'vitest';
import type { FleetVmResult } from '../../src/fleet/run-fleet.js';
import { phaseBars } from '../../src/report/fleet-report.js';

const base: FleetVmResult = {
  vm: 'v',
  from: 'a',
  to: 'b',
  outcome: 'completed',
  reason: '',
  requestedAtNs: 1e9,
  startedAtNs: 2e9,
  endedAtNs: 5e9,
  queuedNs: 1e9,
  totalNs: 3e9,
  downtimeNs: 0.5e9,
  pausedAtNs: -1,
  postcopyAtNs: -1,
  bytesSent: 0,
};

describe('fleet Gantt phases', () => {
  it('a completed migration: queued, pre-copy to the suspend, downtime to the resume', () => {
    expect(phaseBars(base).map((b) => [b.phase, b.fromS, b.toS])).toEqual([
      ['queued', 1, 2],
      ['pre-copy', 2, 4.5],
      ['downtime', 4.5, 5],
    ]);
  });

  it('a post-copy migration: pre-copy to the switch, its downtime, then post-copy to the last page', () => {
    const bars = phaseBars({ ...base, outcome: 'postcopy', postcopyAtNs: 3e9, downtimeNs: 0.01e9 });
    expect(bars.map((b) => [b.phase, b.fromS, b.toS])).toEqual([
      ['queued', 1, 2],
      ['pre-copy', 2, 3],
      ['downtime', 3, 3.01],
      ['post-copy', 3.01, 5],
    ]);
  });
});
