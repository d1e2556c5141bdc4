// QEMU's post-copy and switch-over options on the command line: a run
// reports blocktime in text and JSON; a run trace records the options and
// replays to the same events; a flag the policy cannot take is one line and
// exit 2; the text output shows the device parts of the downtime.
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { tempDir } from '../helpers/temp-dir.js';
import { runCli } from './cli-run.js';

const POSTCOPY = ['hot-set', '--duration', '1s', '--mem', '64MiB', '--vcpus', '2', '--seed', '1', '--start', '200ms', '--set', 'rate=200000', '--tracker', 'hap', '--policy', 'postcopy'];

describe('post-copy options', () => {
  it('run --json gives QEMU blocktime figures, per vCPU summing to the fault wait', async () => {
    const r = await runCli('run', ...POSTCOPY, '--postcopy-preempt', '--json');
    expect(r.code, r.err).toBe(0);
    const j = JSON.parse(r.out) as { postcopyFaultStallNs: number; postcopyVcpuBlocktimeNs: number[]; postcopyBlocktimeNs: number; postcopyRequests: number };
    expect(j.postcopyVcpuBlocktimeNs).toHaveLength(2);
    expect(j.postcopyVcpuBlocktimeNs[0]! + j.postcopyVcpuBlocktimeNs[1]!).toBe(j.postcopyFaultStallNs);
    expect(j.postcopyBlocktimeNs).toBeLessThanOrEqual(Math.min(...j.postcopyVcpuBlocktimeNs));
    expect(j.postcopyRequests).toBeGreaterThan(0);
    const t = await runCli('run', ...POSTCOPY, '--postcopy-preempt');
    expect(t.out).toMatch(/ blocktime {4}.* with every vCPU blocked at once \(postcopy-blocktime\); per vCPU: vCPU 0 .*, vCPU 1 /);
  });

  it('a run trace records the options and replays to the same events', async () => {
    const dir = tempDir();
    const trace = join(dir, 'pc.mst');
    const rec = await runCli('run', ...POSTCOPY, '--postcopy-preempt', '--host-page-size', '2m', '--max-postcopy-bandwidth', '500Mbit', '--device-state', '1MiB', '--record', trace);
    expect(rec.code, rec.err).toBe(0);
    const rep = await runCli('replay', trace, '--verify');
    expect(rep.code, rep.err + rep.out).toBe(0);
  });

  it('a flag the policy cannot take is one line and exit 2', async () => {
    const r = await runCli('run', 'hot-set', '--duration', '1s', '--tracker', 'hap', '--postcopy-preempt');
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/--postcopy-preempt needs --policy postcopy or qemu/);
    expect(r.err).not.toMatch(/\n\s+at /);
    const a = await runCli('run', 'hot-set', '--duration', '1s', '--tracker', 'hap', '--policy', 'postcopy', '--switchover-ack');
    expect(a.code).toBe(2);
    expect(a.err).toMatch(/--switchover-ack needs --policy qemu/);
  });

  it('the text output shows the device state and the device load in the downtime', async () => {
    const r = await runCli('run', 'hot-set', '--duration', '2s', '--mem', '64MiB', '--seed', '1', '--start', '100ms', '--tracker', 'hap', '--policy', 'qemu', '--device-state', '4MiB', '--device-precopy', '4MiB', '--device-load', '3s');
    expect(r.code, r.err).toBe(0);
    expect(r.out).toMatch(/ downtime .* \+ state [0-9.]+ ms \(device [0-9.]+ ms\) \+ device load [0-9.]+ (ms|s) \+ resume /);
  });
});

describe('sweep grids', () => {
  it('take the post-copy and switch-over options as keys: switches as true or false, rates and sizes in their units', async () => {
    const { writeFileSync } = await import('node:fs');
    const { loadGridRuns } = await import('../../src/cli/commands/sweep-command.js');
    const dir = tempDir();
    const grid = join(dir, 'grid.yaml');
    writeFileSync(
      grid,
      `run:
  workload: hot-set
  duration: 1s
  mem: 64MiB
  tracker: hap
  policy: postcopy
  device-state: 1MiB
axes:
  postcopyPreempt: [false, true]
  max-postcopy-bandwidth: [200Mbit, 1Gbit]
`,
    );
    const runs = loadGridRuns(grid);
    expect(runs).toHaveLength(4);
    expect(runs.map((r) => r.argv.includes('--postcopy-preempt'))).toEqual([false, false, true, true]);
    expect(runs[0]!.argv).toEqual(expect.arrayContaining(['--max-postcopy-bandwidth', '200Mbit', '--device-state', '1MiB']));
    expect(new Set(runs.map((r) => r.id)).size).toBe(4);
  });
});
