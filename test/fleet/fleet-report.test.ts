// Checks the Gantt's phases of a migration from its result: queued, then
// pre-copy up to the stop, then the downtime; for post-copy the switch's
// downtime and then post-copy to the last page; the bars tile the
// migration from its request to its end with no gap.
import { describe, expect, it } from 'vitest';
import type { FleetVmResult } from '../../src/fleet/run-fleet.js';
import { loadScenario, runScenario } from '../../src/api/fleet.js';
import { fleetReportHtml, phaseBars, remainingChart, remainingData } from '../../src/report/fleet-report.js';

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
  readings: [],
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

// The remaining-bytes chart: one series per started VM, read at the
// controller's own polls, and each VM's budget line where the
// controller's configured value puts it.
describe('fleet remaining bytes against the budget', () => {
  const scenario = (orchestrator: string) => `seed: 3
hosts:
  - { name: a, nic: 1Gbit }
  - { name: b, nic: 1Gbit }
vms:
  - { name: p, host: a, workload: muncher, set: { rate: 4000 }, memory: 64MiB, duration: 3s }
  - { name: q, host: a, workload: muncher, set: { rate: 9000, pattern: random }, memory: 96MiB, duration: 3s }
  - { name: r, host: a, workload: muncher, set: { rate: 30000 }, memory: 1500MiB, duration: 3s }
plan:
  - migrate p to b at 100ms
  - migrate q to b at 100ms
  - migrate r to b at 300ms
orchestrator:
${orchestrator}
`;

  it('kubevirt: one series per VM at its 400 ms polls; the budget line at completionTimeoutPerGiB x the GB of RAM (rounded up)', () => {
    const r = runScenario(loadScenario('k.yaml', { text: scenario('  name: kubevirt\n  completionTimeoutPerGiB: 7\n  progressTimeout: 20\n  parallelOutboundMigrationsPerNode: 3') }));
    const { points, rules } = remainingData(r);
    expect([...new Set(points.map((p) => p.vm))]).toEqual(['p', 'q', 'r']);
    // Every read falls on the monitor's 400 ms grid from the migration's start.
    for (const p of points) expect(Math.abs(p.elapsedS / 0.4 - Math.round(p.elapsedS / 0.4))).toBeLessThan(1e-9);
    // 64 MiB and 96 MiB are under 1 GB: 1 x 7 s; 1,500 MiB is 1.57 GB: 2 x 7 s.
    expect(rules.filter((x) => x.what === 'completion budget').map((x) => [x.vm, x.elapsedS])).toEqual([
      ['p', 7],
      ['q', 7],
      ['r', 14],
    ]);
    // The progress timeout stands 20 s after the last read at which the remaining bytes fell.
    for (const rule of rules.filter((x) => x.what === 'progress timeout')) expect(rule.elapsedS).toBeGreaterThanOrEqual(20);
    const spec = remainingChart(r) as { layer: { data: { values: { vm: string }[] } }[] };
    expect(spec.layer).toHaveLength(2);
    expect(new Set(spec.layer[0]!.data.values.map((v) => v.vm)).size).toBe(3);
  });

  it('nova: the budget line at live_migration_completion_timeout x the GiB of RAM, at least 2', () => {
    const r = runScenario(loadScenario('n.yaml', { text: scenario('  name: nova\n  max_concurrent_live_migrations: 3\n  live_migration_completion_timeout: 30') }));
    const { points, rules } = remainingData(r);
    expect([...new Set(points.map((p) => p.vm))]).toEqual(['p', 'q', 'r']);
    expect(rules.map((x) => [x.vm, x.what, x.elapsedS])).toEqual([
      ['p', 'completion budget', 60],
      ['q', 'completion budget', 60],
      ['r', 'completion budget', 60],
    ]);
  });

  it('the page draws it as its own figure, one legend entry per VM', async () => {
    const r = runScenario(loadScenario('k.yaml', { text: scenario('  name: kubevirt\n  completionTimeoutPerGiB: 7\n  parallelOutboundMigrationsPerNode: 3') }));
    const html = await fleetReportHtml(r, 't');
    const i = html.indexOf('<figure data-chart="remaining">');
    expect(i).toBeGreaterThan(0);
    const svg = html.slice(i, html.indexOf('</figure>', i));
    for (const vm of ['p', 'q', 'r']) expect(svg).toContain(`VM: ${vm}`);
    expect(html).toContain('completionTimeoutPerGiB 7 s x 1 GB (RAM, rounded up) = 7 s');
  });
});
