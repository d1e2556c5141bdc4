// Auto-converge's steps follow QEMU's parameters (migration/ram.c
// mig_throttle_guest_down): cpu-throttle-initial first, then
// cpu-throttle-increment a step up to max-cpu-throttle; with
// cpu-throttle-tailslow a step is at most what brings the guest's CPU share
// to the one that matches the trigger threshold.
import { describe, expect, it } from 'vitest';
import { runMigration } from '../../src/api/run-migration.js';
import { PAGE_WIRE, ZERO_COSTS } from '../helpers/zero-costs.js';
import type { MigrationOptions } from '../../src/reducers/migration/migration-options.js';
import { config, customSource, sequentialWriter } from '../helpers/custom-source.js';

const M = 65_536;

function steps(migration: Partial<MigrationOptions>): number[] {
  const s = runMigration(customSource(sequentialWriter(30_000, M), config(M, 60e9)), {
    tracker: 'hap',
    p2m: '4k',
    costs: ZERO_COSTS,
    migration: { policy: 'qemu', startNs: 2e6, bandwidthBytesPerSec: 125e6, maxBandwidthBytesPerSec: 10_000 * PAGE_WIRE, autoConverge: true, ...migration },
  });
  expect(s.lostPages).toBe(0);
  return s.throttleSteps.map((t) => t.pct);
}

describe('auto-converge parameters', () => {
  it('steps from cpu-throttle-initial by cpu-throttle-increment, capped at max-cpu-throttle', () => {
    const pcts = steps({ throttleInitialPct: 30, throttleIncrementPct: 15, maxThrottlePct: 60, afterEnd: 'stop' });
    expect(pcts.length).toBeGreaterThanOrEqual(2);
    // Each step past the cap is still a cpu_throttle_set at the cap.
    expect(pcts).toEqual(pcts.map((_, i) => Math.min(30 + 15 * i, 60)));
  });

  it('tail-slow steps by no more than the increment, and by less when close to the threshold', () => {
    const plain = steps({ throttleIncrementPct: 30, afterEnd: 'stop' });
    const slow = steps({ throttleIncrementPct: 30, throttleTailslow: true, afterEnd: 'stop' });
    expect(slow[0]).toBe(20);
    for (let i = 1; i < slow.length; i++) expect(slow[i]! - slow[i - 1]!).toBeLessThanOrEqual(30);
    // Without tail-slow every step is the increment (to the cap); with it, one falls short.
    expect(plain).toEqual(plain.map((_, i) => Math.min(20 + 30 * i, 99)));
    expect(slow.slice(1).some((p, i) => p - slow[i]! < 30)).toBe(true);
  });
});
