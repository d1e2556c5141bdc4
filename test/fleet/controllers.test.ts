// Checks the orchestrators' controllers on the scenarios/ examples:
// KubeVirt's per-node limit runs an evacuation two at a time; a VM that
// cannot converge is aborted by KubeVirt at its budget with the reason,
// switches to post-copy when allowed, and completes under Nova's
// force_complete (paused, or in post-copy when permitted); Nova's downtime
// steps follow downtime_steps; oVirt's follow exponential_downtime.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { loadScenario, runScenario } from '../../src/api/fleet.js';
import type { FleetHandle } from '../../src/fleet/controllers/controller.js';
import { kubevirtController } from '../../src/fleet/controllers/kubevirt.js';
import { novaDowntimeSteps } from '../../src/fleet/controllers/nova.js';
import { exponentialDowntimeMs } from '../../src/fleet/controllers/ovirt.js';

const NO_CONVERGE = readFileSync('scenarios/no-converge.yaml', 'utf8');
const EVACUATE = readFileSync('scenarios/evacuate-4.yaml', 'utf8');

function run(text: string) {
  return runScenario(loadScenario('test.yaml', { text }));
}

describe('kubevirt', () => {
  it('parallelOutboundMigrationsPerNode: 2 runs a 4-VM evacuation two at a time', () => {
    const r = run(EVACUATE);
    const starts = r.vms.map((v) => v.startedAtNs);
    const ends = r.vms.map((v) => v.endedAtNs);
    // The first two start at the request; each of the others starts when a slot frees.
    expect(starts[0]).toBe(1e9);
    expect(starts[1]).toBe(1e9);
    expect(starts[2]).toBe(Math.min(ends[0]!, ends[1]!));
    expect(starts[3]).toBe(Math.max(ends[0]!, ends[1]!));
    expect(r.events.filter((e) => e.kind === 'queued').map((e) => e.vm)).toEqual(['vm3', 'vm4']);
    // Never more than two under way.
    for (const t of starts) expect(r.vms.filter((v) => v.startedAtNs <= t && v.endedAtNs > t).length).toBeLessThanOrEqual(2);
    // Two waves of two identical migrations: the makespan is two waves' time.
    const wave = ends[0]! - starts[0]!;
    expect(Math.abs(r.makespanNs - 2 * wave) / (2 * wave)).toBeLessThan(0.01);
    // With four at once, each has a quarter of host a's NIC: one wave, each longer.
    const all = run(EVACUATE.replace('parallelOutboundMigrationsPerNode: 2', 'parallelOutboundMigrationsPerNode: 4'));
    expect(all.vms.every((v) => v.startedAtNs === 1e9)).toBe(true);
    expect(all.vms[0]!.totalNs).toBeGreaterThan(wave);
  });

  it('aborts a VM that cannot converge once past its budget, with the reason', () => {
    const r = run(NO_CONVERGE);
    const v = r.vms[0]!;
    expect(v.outcome).toBe('aborted');
    // 512 MiB counts 1 GB (ScaledValue rounds up): budget 20 s x 1; polls every 400 ms.
    expect(v.reason).toBe('Live migration is not completed after 20 seconds and has been aborted');
    const abort = r.events.find((e) => e.kind === 'abort')!;
    // The first poll with floor(elapsed) > 20 s: 1 s + 53 x 400 ms (elapsed 21.2 s).
    expect(abort.atNs).toBe(1e9 + 53 * 400e6);
    expect(v.summary!.outcome).toBe('incomplete');
  });

  it('aborts a migration whose remaining bytes stop falling for progressTimeout seconds', () => {
    // A page-level guest's remaining bytes fall within every pass (QEMU's
    // bitmap drains as pages are sent), so only a stalled stream is stuck:
    // here the figures are handed to the controller as libvirt would
    // report a stalled job, the same remaining at every poll.
    const ctl = kubevirtController({ progressTimeout: 3 });
    const calls: string[] = [];
    let nowNs = 0;
    const control = {
      abort: (reason: string) => calls.push(`abort ${nowNs}: ${reason}`),
      startPostcopy: () => calls.push('postcopy'),
      pause: () => calls.push('pause'),
      setDowntimeLimit: () => {},
      setMaxBandwidth: () => {},
      figures: () => ({ status: 'active' as const, startedAtNs: 0, updatedAtNs: nowNs, remainingBytes: 1e8, transferredBytes: 0, dirtySyncCount: 1, memTotalBytes: 1 << 30 }),
    };
    const m = { vm: 0, to: 1, atNs: 0, line: 1 };
    const fleet = {
      get nowNs() {
        return nowNs;
      },
      vms: [{ memBytes: 1 << 30, host: 0 }],
      hosts: [],
      running: [m],
      control: () => control,
      start: () => {},
      note: () => {},
      budget: () => {},
    } as unknown as FleetHandle;
    ctl.started(m, fleet);
    while (calls.length === 0 && nowNs < 10e9) {
      nowNs = ctl.nextPollNs;
      ctl.poll(fleet);
    }
    // The first poll (0.4 s) sets the watermark; the same figure after it is
    // no progress; floor((now - 0.4 s) / 1 s) > 3 first at 4.4 s.
    expect(calls).toEqual(['abort 4400000000: Live migration stuck for 4 seconds and has been aborted']);
  });

  it('switches to post-copy at the budget when allowPostCopy is set, and completes', () => {
    const r = run(NO_CONVERGE.replace('completionTimeoutPerGiB: 20', 'completionTimeoutPerGiB: 20\n  allowPostCopy: true'));
    const v = r.vms[0]!;
    expect(v.outcome).toBe('postcopy');
    expect(v.postcopyAtNs).toBeGreaterThanOrEqual(1e9 + 53 * 400e6);
    expect(v.summary!.outcome).toBe('completed');
    expect(v.summary!.lostPages).toBe(0);
  });
});

describe('kubevirt-vep248', () => {
  // A budget long enough for the stall detector's 40 s window to fill first.
  const vep = (extra: string) =>
    NO_CONVERGE.replace('name: kubevirt', `name: kubevirt-vep248${extra}`).replace('completionTimeoutPerGiB: 20', 'completionTimeoutPerGiB: 150').replace('duration: 60s', 'duration: 120s');

  it('detects the stall and aborts when the implied downtime is beyond 1.5x the max downtime', () => {
    const r = run(vep(''));
    const v = r.vms[0]!;
    expect(v.outcome).toBe('aborted');
    expect(v.reason).toMatch(/^aborting migration: estimated downtime [0-9]+ms exceeds max allowed downtime 900ms by a factor of more than 1\.5x$/);
    // Not before a record has aged out of the 40 s StallProgressTimeout window.
    expect(r.events.find((e) => e.kind === 'abort')!.atNs).toBeGreaterThan(1e9 + 40e9);
    expect(r.events.find((e) => e.kind === 'abort')!.atNs).toBeLessThan(1e9 + 150e9);
  });

  it('switches to post-copy at a local minimum when post-copy is allowed, before the budget', () => {
    const r = run(vep('\n  allowPostCopy: true'));
    const v = r.vms[0]!;
    expect(v.outcome).toBe('postcopy');
    expect(r.events.find((e) => e.kind === 'postcopy')!.detail).toMatch(/^stall detector: starting post copy mode: estimated transfer time [0-9]+ms is a local minima$/);
    expect(v.postcopyAtNs).toBeLessThan(1e9 + 150e9);
    expect(v.summary!.lostPages).toBe(0);
  });
});

describe('nova', () => {
  const nova = (extra: string) => NO_CONVERGE.replace(/orchestrator:[\s\S]*$/, `orchestrator:\n  name: nova\n  live_migration_completion_timeout: 10\n${extra}`);

  it('aborts at the completion timeout by default', () => {
    const v = run(nova('')).vms[0]!;
    expect(v.outcome).toBe('aborted');
    // data_gb is at least 2: 10 s x 2.
    expect(v.reason).toContain('not completed after 20 sec');
  });

  it('completes a VM that cannot converge under force_complete, by pausing it', () => {
    const r = run(nova('  live_migration_timeout_action: force_complete\n'));
    const v = r.vms[0]!;
    expect(v.outcome).toBe('paused');
    expect(v.summary!.outcome).toBe('completed');
    expect(v.summary!.lostPages).toBe(0);
    // The first 0.5 s poll past 20 s of elapsed time.
    expect(v.pausedAtNs).toBe(1e9 + 41 * 500e6);
    expect(r.events.some((e) => e.kind === 'paused')).toBe(true);
  });

  it('switches to post-copy under force_complete when post-copy is permitted', () => {
    const v = run(nova('  live_migration_timeout_action: force_complete\n  live_migration_permit_post_copy: true\n')).vms[0]!;
    expect(v.outcome).toBe('postcopy');
    expect(v.summary!.lostPages).toBe(0);
  });

  it("raises the downtime along downtime_steps, as migration.py's docstring example", () => {
    // 3 GB, 400 ms, 10 steps, 30 s delay: 0 s -> 40 ms, 90 s -> 76 ms, ..., 900 s -> 400 ms.
    const steps = novaDowntimeSteps(3, 400, 10, 30);
    expect(steps[0]).toEqual([0, 40]);
    expect(steps[1]).toEqual([90, 76]);
    expect(steps[10]).toEqual([900, 400]);
  });
});

describe('ovirt', () => {
  it("vdsm's exponential_downtime for 500 ms in 5 steps", () => {
    // offset 100, base 400^(1/4) = 4.47...: int(100 + base^i).
    expect(exponentialDowntimeMs(500, 5)).toEqual([101, 104, 120, 189, 500]);
  });
});
