// QEMU's vCPU throttle (system/cpu-throttle.c) as the vCPU clock applies
// it: a vCPU runs 10 ms of every 10 ms / (1 - pct) and sleeps the rest. A
// paced, mostly idle writer keeps its rate until the throttle leaves it
// less CPU than its writes need (DESIGN section 4: on real QEMU a writer
// using under 1% of a CPU kept its rate up to a 90% throttle); a busy loop
// slows in proportion to the CPU it gets.
import { describe, expect, it } from 'vitest';
import { VcpuClock, WAITS } from '../../src/reducers/vcpu-clock.js';

const MS = 1_000_000;

/**
 * A writer on one vCPU: a write every `periodNs` of guest time, each busy
 * for `busyNs`, idle in between; throttled at `pct` from wall time 0.
 * Returns the writes whose wall time fell within `spanNs` of wall time,
 * per second.
 */
function pacedRate(pct: number, periodNs: number, busyNs: number, spanNs: number): number {
  const clock = new VcpuClock(1);
  clock.setThrottle(pct, 0);
  let done = 0;
  for (let g = periodNs; ; g += periodNs) {
    const wall = clock.throttledWallNs(0, g, 0, Infinity);
    expect(wall).not.toBe(WAITS);
    if (wall > spanNs) break;
    done++;
    clock.throttledWallNs(0, g + busyNs, 1, Infinity);
  }
  return (done * 1e9) / spanNs;
}

/** A busy loop: events every 100 us of guest time, never idle. Guest time done per second of wall time. */
function busyShare(pct: number, spanNs: number): number {
  const clock = new VcpuClock(1);
  clock.setThrottle(pct, 0);
  let g = 0;
  for (;;) {
    g += 100_000;
    const wall = clock.throttledWallNs(0, g, 0, Infinity);
    if (wall > spanNs) return (g - 100_000) / spanNs;
  }
}

describe('the vCPU throttle', () => {
  it('a paced writer using 0.5% of a CPU keeps its write rate within 2% up to a 90% throttle', () => {
    for (const pct of [20, 50, 80, 90]) {
      const rate = pacedRate(pct, MS, 5_000, 20_000 * MS);
      expect(Math.abs(rate - 1000) / 1000, `${pct}%`).toBeLessThan(0.02);
    }
  });

  it('it loses its rate once the throttle leaves it less CPU than it needs: a 2% writer at 99% gets about 1%', () => {
    expect(Math.abs(pacedRate(90, MS, 20_000, 20_000 * MS) - 1000) / 1000).toBeLessThan(0.02);
    const rate = pacedRate(99, MS, 20_000, 20_000 * MS);
    // 10 ms of running a second, 20 us a write: about 500 writes a second.
    expect(rate).toBeGreaterThan(450);
    expect(rate).toBeLessThan(550);
  });

  it('a busy loop slows in proportion to the CPU it gets', () => {
    for (const pct of [20, 50, 90]) expect(busyShare(pct, 10_000 * MS), `${pct}%`).toBeCloseTo(1 - pct / 100, 2);
  });

  it('an event that falls into a sleep waits for its end, and the ones after it are not shifted', () => {
    const clock = new VcpuClock(1);
    // 50%: ticks every 20 ms from 0, sleeping 10 ms + 1 ns after each.
    clock.setThrottle(50, 0);
    clock.throttledWallNs(0, 0, 1, Infinity);
    expect(clock.throttledWallNs(0, 5 * MS, 0, Infinity)).toBe(10 * MS + 1);
    clock.throttledWallNs(0, 5 * MS + 1_000, 1, Infinity);
    expect(clock.throttledWallNs(0, 15 * MS, 0, Infinity)).toBe(15 * MS);
  });
});
