// Checks QEMU's dirty-limit (src/reducers/kvm-dirty-limit.ts, system/dirtylimit.c)
// on KVM's dirty ring: the controller's arithmetic against QEMU's, a writer held
// to its quota, a reader left alone; and, in a migration, auto-converge slowing
// every busy vCPU where dirty-limit slows only the one that dirties fast.
import { describe, expect, it } from 'vitest';
import { runMigration } from '../../src/api/run-migration.js';
import { copyGuestBatch, type GuestBatch } from '../../src/events/guest-batch.js';
import { GuestBatchBuilder } from '../../src/events/guest-batch-builder.js';
import { RunEventKind } from '../../src/events/run-event-kind.js';
import { DEFAULT_COSTS } from '../../src/model/cost-model.js';
import { PTE_RW, PTE_US } from '../../src/model/pte.js';
import { DirtyLimit } from '../../src/reducers/kvm-dirty-limit.js';
import type { WorkloadDefinition } from '../../src/workloads/workload.js';
import { config, customSource } from '../helpers/custom-source.js';
import { EventScript, PageTableWriter } from '../helpers/mmu-script.js';
import { exits, makeTrackerSim } from '../helpers/tracker-sim.js';

const MIB = 1 << 20;
const range = (from: number, n: number) => Array.from({ length: n }, (_, k) => from + k);

describe('the dirty-limit controller (dirtylimit_set_throttle)', () => {
  it('a vCPU far over its quota gets the linear step, then tenths of the ring-full time, and stops within 25 MB/s', () => {
    // Ring of 4096 entries = 16 MiB. Quota 500 MB/s.
    const d = new DirtyLimit(1, 4096, 500 * MIB);
    // 2000 MiB in a 1 s period: error 75% of 2000 > 50%: pct 75, ring-full 16e6/2000 = 8000 us, step 8000 x 75 / 25.
    d.endPeriod(Int32Array.of(2000 * 256));
    expect(d.rateMBps[0]).toBe(2000);
    expect(d.throttleUs[0]).toBe(24_000);
    // 451 MB/s: error 49 (9%, under 50%): a tenth of the ring-full time (max rate seen is still 2000) less.
    d.endPeriod(Int32Array.of(451 * 256));
    expect(d.throttleUs[0]).toBe(24_000 - 800);
    // Within 25 MB/s: left as it is.
    d.endPeriod(Int32Array.of(480 * 256));
    expect(d.throttleUs[0]).toBe(23_200);
    // Nothing dirtied: the sleep goes.
    d.endPeriod(Int32Array.of(0));
    expect(d.throttleUs[0]).toBe(0);
  });

  it('the sleep never exceeds 99 times the ring-full time', () => {
    const d = new DirtyLimit(1, 4096, 1 * MIB);
    d.endPeriod(Int32Array.of(4000 * 256));
    // pct 99 (integer): 4000 x 99 / 1 = 396,000 us, which is the cap, 99 x 4000.
    expect(d.throttleUs[0]).toBe(99 * 4000);
    d.endPeriod(Int32Array.of(3000 * 256));
    expect(d.throttleUs[0]).toBe(99 * 4000);
  });
});

/** A writer on vCPU 0 (a new page every `stepNs`, over `wss` pages) and a reader on vCPU 1, mapped before logging. */
function writerAndReader(seconds: number, stepNs: number, wss: number): { setup: GuestBatch; halves: GuestBatch[][] } {
  const script = new EventScript();
  const pt = new PageTableWriter(script, 'x86-64', 100);
  const root = pt.allocPage();
  script.cr3Load(1, root);
  const vpns = range(0x4000, 16);
  for (const [k, vpn] of vpns.entries()) pt.map(root, vpn, 200 + k, PTE_RW | PTE_US);
  for (const vpn of vpns) script.read(1, vpn);
  const setup = script.take();
  const t0 = 1_000_000;
  const half = (from: number, to: number): GuestBatch[] => {
    const out: GuestBatch[] = [];
    const b = new GuestBatchBuilder((x) => out.push(copyGuestBatch(x)), 65_536);
    for (let i = from; i < to; i++) {
      const t = t0 + i * stepNs;
      b.physWrite(t, 0, 1024 + (i % wss), 8);
      if (i % 100 === 0) b.read(t + 1, 1, vpns[(i / 100) % 16]!);
    }
    b.flush();
    return out;
  };
  const n = Math.floor((seconds * 1e9) / stepNs);
  return { setup, halves: [half(0, n / 2), half(n / 2, n)] };
}

describe('dirty-limit on a running guest', () => {
  it('dirty-limit holds a writing vCPU\'s dirty rate within 10% of the limit and leaves a reading vCPU\'s progress unchanged', () => {
    const quotaMBps = 500;
    const sim = makeTrackerSim('kvm-ring', { memPages: 65_536 + 2048, kvm: { dirtyRingSize: 4096, dirtyLimitBytesPerSec: quotaMBps * MIB } });
    // 2000 MiB/s of new pages (a page every 1.953 us), four times the quota.
    const { setup, halves } = writerAndReader(8, 1953, 65_536);
    sim.step(setup);
    sim.tracker.enable(sim.clock.nowNs);
    sim.tracker.startDirtyLimit(sim.clock.nowNs);
    for (const b of halves[0]!) sim.step(b);
    const pages0 = halves[0]!.reduce((a, b) => a + b.count, 0);
    const wall0 = sim.clock.lastGuestNs[0]! + sim.clock.stallNs[0]!;
    for (const b of halves[1]!) sim.step(b);
    const pages1 = halves[1]!.reduce((a, b) => a + b.count, 0);
    const wall1 = sim.clock.lastGuestNs[0]! + sim.clock.stallNs[0]!;
    // Once settled (second half), the writer's pages per wall second, in QEMU's MB/s. Every write is a new page
    // (the working set is far larger than a ring, and a page is reset within a ring's worth of writes).
    const writes = pages1 - halves[1]!.reduce((a, b) => a + Math.ceil(b.count / 101), 0);
    const rateMBps = (writes * 4096) / MIB / ((wall1 - wall0) / 1e9);
    expect(pages0).toBeGreaterThan(0);
    expect(Math.abs(rateMBps - quotaMBps) / quotaMBps).toBeLessThan(0.1);
    expect(exits(sim, RunEventKind.dirtyLimitSleep)).toBeGreaterThan(0);
    // The reader took no sleep and no ring-full exit: its only loss is the TLB-flush and ring-flush kicks (1 us each).
    const kicksOnReader = sim.clock.stallNs[1]! / DEFAULT_COSTS.exitRoundTripNs;
    expect(Number.isInteger(kicksOnReader)).toBe(true);
    expect(sim.clock.stallNs[1]! / (sim.clock.lastGuestNs[1]! - 1_000_000)).toBeLessThan(1e-3);
  });
});

/** vCPU 0 dirties fast (a new page every 2 us over a large set), vCPU 1 is busy but rewrites 8 pages. */
function fastAndSlow(): WorkloadDefinition {
  return {
    name: 'test-fast-and-slow',
    description: 'one vCPU dirties fast, the other barely',
    usesMmu: false,
    params: [],
    generate(cfg, out) {
      for (let p = 0; p < cfg.memPages; p++) out.physWrite(0, 0, p, 4096);
      for (let i = 0; ; i++) {
        const t = 1_000_000 + i * 2000;
        if (t > cfg.durationNs) break;
        out.physWrite(t, 0, (i * 7) % (cfg.memPages - 64), 8);
        if (i % 5 === 0) out.physWrite(t + 1, 1, cfg.memPages - 8 + ((i / 5) % 8), 8);
      }
    },
  };
}

describe('per-vCPU slowdown: auto-converge against dirty-limit', () => {
  it('auto-converge slows every busy vCPU; dirty-limit slows only the one that dirties fast', () => {
    const source = customSource(fastAndSlow(), config(65_536, 12e9, { vcpus: 2 }));
    const migration = { policy: 'qemu' as const, startNs: 500e6, maxBandwidthBytesPerSec: 64 * MIB };
    const ac = runMigration(source, { tracker: 'kvm-ring', migration: { ...migration, autoConverge: true } });
    // A quota of half the 64 MiB/s QEMU sends at.
    const dl = runMigration(source, { tracker: 'kvm-ring', kvm: { dirtyLimitBytesPerSec: 32 * MIB }, migration });
    for (const s of [ac, dl]) expect(s.lostPages).toBe(0);
    expect(ac.vcpuSlowdown).toBeDefined();
    expect(dl.vcpuSlowdown).toBeDefined();
    // Auto-converge's throttle (20% from its first step, some 4 s before the guest's events end) sleeps the
    // slow writer's thread as it does the fast one's: a few percent of the live phase each.
    expect(ac.throttleSteps.length).toBeGreaterThan(0);
    expect(ac.vcpuSlowdown![1]!).toBeGreaterThan(0.03);
    // Dirty-limit: the fast writer sleeps after its ring-full exits; the slow one, whose ring never fills, loses
    // only kicks (microseconds), a hundredth of what auto-converge took from it or less.
    expect(dl.exits.dirty_limit_sleep!.count).toBeGreaterThan(0);
    expect(dl.vcpuSlowdown![0]!).toBeGreaterThan(0.1);
    expect(dl.vcpuSlowdown![1]!).toBeLessThan(0.001);
    expect(dl.vcpuSlowdown![1]! * 100).toBeLessThan(ac.vcpuSlowdown![1]!);
  });
});
