// Under QEMU's auto-converge (migration/ram.c mig_throttle_guest_down,
// system/cpu-throttle.c cpu_throttle_thread) a vCPU runs 10 ms of every
// 10 ms / (1 - pct) and sleeps the rest. A paced writer that is idle between
// its writes (the muncher: its vCPUs go idle at the end of each write, the
// idle event at the gap's start) keeps its write rate as long as the CPU
// left covers what its writes need, tracking exits included, as real QEMU
// showed (DESIGN section 4: a writer using under 1% of a CPU kept its rate
// up to a 90% throttle); near 99% what is left no longer covers it. A busy
// loop slows in proportion to the CPU it gets. Checked from whole runs: a
// qemu migration whose throttle, once triggered, is held at one percentage
// (cpu-throttle-initial = max-cpu-throttle), and the wall time the vCPU
// clock gives each guest event.
import { afterEach, describe, expect, it, vi } from 'vitest';
import { guestSource } from '../../src/api/guest-source.js';
import { runMigration } from '../../src/api/run-migration.js';
import type { GuestSource } from '../../src/api/guest-source.js';
import { GuestEventKind } from '../../src/events/guest-event-kind.js';
import { VcpuClock, WAITS } from '../../src/reducers/vcpu-clock.js';
import type { WorkloadDefinition } from '../../src/workloads/workload.js';
import { config, customSource } from '../helpers/custom-source.js';
import { ZERO_COSTS } from '../helpers/zero-costs.js';
import type { CostModel } from '../../src/model/cost-model.js';

afterEach(() => vi.restoreAllMocks());

const WINDOW_NS = 2e9;

/**
 * vCPU events (not idle) a second of guest time, counted over [1 s, 3 s):
 * what the workload asks for, whatever the throttle.
 */
function dueRatePerSec(source: GuestSource): number {
  let n = 0;
  source.events().subscribe((b) => {
    let t = b.baseNs;
    for (let i = 0; i < b.count; i++) {
      t += b.dtNs[i]!;
      if (t >= 1e9 && t < 3e9 && b.kind[i] !== GuestEventKind.idle && b.vcpu[i]! < source.header.guest.vcpus) n++;
    }
  });
  return n / 2;
}

/**
 * Migrates `source` under qemu with auto-converge held at `pct` once it
 * triggers (live sending capped at 32 MiB/s, so the writer's dirtying
 * stays above half of what is sent and the migration never completes: the
 * throttle stays on), and returns the writer's rate over the 2 s of wall
 * time from 0.5 s after the step, as a share of the rate it asks for:
 * guest events the vCPU clock put in the window, over those due in 2 s.
 */
function rateUnderThrottle(source: GuestSource, pct: number, costs?: CostModel): number {
  const done: number[] = [];
  const wallOf = VcpuClock.prototype.throttledWallNs;
  vi.spyOn(VcpuClock.prototype, 'throttledWallNs').mockImplementation(function (this: VcpuClock, vcpu: number, g: number, idle: number, stopAt: number) {
    const wall = wallOf.call(this, vcpu, g, idle, stopAt);
    if (wall !== WAITS && idle === 0 && vcpu < this.vcpus) done.push(wall);
    return wall;
  });
  const s = runMigration(source, {
    tracker: 'hap',
    p2m: '4k',
    ...(costs ? { costs } : {}),
    migration: { policy: 'qemu', startNs: 500e6, maxBandwidthBytesPerSec: 32 * 1024 * 1024, autoConverge: true, throttleInitialPct: pct, maxThrottlePct: pct, afterEnd: 'stop' },
  });
  vi.restoreAllMocks();
  expect(s.throttleSteps[0]?.pct).toBe(pct);
  expect(s.outcome).toBe('incomplete');
  const from = s.throttleSteps[0]!.atNs + 500e6;
  const to = from + WINDOW_NS;
  expect(to).toBeLessThan(s.wallNs);
  return done.filter((t) => t >= from && t < to).length / (dueRatePerSec(source) * (WINDOW_NS / 1e9));
}

/** The muncher on 2 vCPUs: 40,000 random page writes a second, 20,000 on each vCPU, 250 ns each: 0.5% of a CPU. */
const muncher = () =>
  guestSource('muncher', { seed: 1, durationNs: 20e9, memBytes: 256 * 1024 * 1024, vcpus: 2, guest: 'hvm', paging: 'x86-64', settings: { rate: '40000', pattern: 'random', wss: '200MiB' } });

/** A busy loop on one vCPU: it never idles, storing into the next page every 10 us of its computing. */
const busyLoop: WorkloadDefinition = {
  name: 'test-busy-loop',
  description: 'a vCPU that computes without pause, storing into the next page every 10 us',
  usesMmu: false,
  params: [],
  generate(c, out) {
    for (let p = 0; p < c.memPages; p++) out.physWrite(0, 0, p, 4096);
    for (let i = 1, t = 10_000; t <= c.durationNs; i++, t += 10_000) out.physWrite(t, 0, i % 60_000, 8);
  },
};

describe('writers under the CPU throttle, in a migration', () => {
  it('a paced writer using under 1% of a CPU keeps its write rate within 2% up to a 90% throttle, and loses it at 99%', () => {
    for (const pct of [50, 90]) expect(Math.abs(rateUnderThrottle(muncher(), pct) - 1), `${pct}%`).toBeLessThan(0.02);
    // At 99% a vCPU runs 10 ms a second: less than its writes and the
    // tracking exits of their first stores in each round need.
    expect(rateUnderThrottle(muncher(), 99)).toBeLessThan(0.9);
  });

  it('a busy loop slows in proportion to the CPU it gets', () => {
    const source = () => customSource(busyLoop, config(65_536, 20e9));
    // No tracking costs here: what slows it is the throttle alone.
    for (const pct of [50, 90]) expect(Math.abs(rateUnderThrottle(source(), pct, ZERO_COSTS) - (1 - pct / 100)), `${pct}%`).toBeLessThan(0.01);
  });
});
