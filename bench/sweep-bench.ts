import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { guestSource } from '../src/api/guest-source.js';
import { runMigration } from '../src/api/run-migration.js';
import { DEFAULT_DURATION_NS, DEFAULT_GUEST } from '../src/model/guest-config.js';
import type { TrackerName } from '../src/reducers/tracker.js';
import { type BenchRow, loadNote, timeIt } from './bench-util.js';

const TRACKERS: TrackerName[] = ['hap', 'pml'];
const BANDWIDTHS = ['1Gbit', '2500Mbit', '10Gbit', '25Gbit'];
const SEEDS = 8;

/**
 * A 64-run sweep of the apache default (2 trackers x 4 bandwidths x 8
 * seeds), as a user runs it (the built CLI, a process of its own): runs
 * per second with one thread and with every core, the speed-up, and the
 * cost of a run in the sweep against a warm in-process runMigration of
 * the same run (guest generated each time, as a loop over the API does).
 * The 1,000-run estimate scales the all-cores wall time.
 */
export function sweepBench(): BenchRow[] {
  const dir = mkdtempSync(join(tmpdir(), 'migsim-sweep-bench-'));
  const cli = join(import.meta.dirname, '..', 'src', 'cli', 'bin.js');
  const grid = join(dir, 'grid.yaml');
  writeFileSync(grid, `run: {workload: apache}\naxes:\n  tracker: [${TRACKERS.join(', ')}]\n  bandwidth: [${BANDWIDTHS.join(', ')}]\n  seed: {count: ${SEEDS}}\n`);
  const runs = TRACKERS.length * BANDWIDTHS.length * SEEDS;
  const cores = availableParallelism();
  try {
    const sweep = (jobs: number) => {
      const load = loadNote();
      const t = timeIt(() => execFileSync(process.execPath, [cli, 'sweep', grid, '-o', join(dir, `jobs-${jobs}`), '--jobs', String(jobs), '--json'], { stdio: ['ignore', 'pipe', 'inherit'] }));
      return { seconds: t.seconds, cpuSeconds: (JSON.parse(t.value.toString()) as { cpuSeconds: number }).cpuSeconds, load };
    };
    const oneRun = sweep(1);
    const allRun = sweep(cores);
    const one = oneRun.seconds;
    const all = allRun.seconds;
    // In-process: warm up once, then a few of the same runs one after the other.
    const sample = 6;
    const run = (i: number) => {
      const source = guestSource('apache', { seed: 1 + (i % SEEDS), durationNs: DEFAULT_DURATION_NS, memBytes: DEFAULT_GUEST.memBytes, vcpus: DEFAULT_GUEST.vcpus, guest: DEFAULT_GUEST.guest, paging: DEFAULT_GUEST.paging, settings: {} });
      runMigration(source, { tracker: TRACKERS[i % TRACKERS.length]!, migration: { bandwidthBytesPerSec: 125e6 } });
    };
    run(0);
    const inProcess = timeIt(() => {
      for (let i = 1; i <= sample; i++) run(i);
    }).seconds / sample;
    const perRunOne = one / runs;
    const speedup = one / all;
    return [
      { scenario: 'sweep', metric: `${runs}-run apache sweep, --jobs 1 (${oneRun.load} at its start)`, value: `${(runs / one).toFixed(2)} runs/s (${one.toFixed(1)} s)` },
      { scenario: 'sweep', metric: `${runs}-run apache sweep, --jobs ${cores} (${allRun.load} at its start)`, value: `${(runs / all).toFixed(2)} runs/s (${all.toFixed(1)} s)` },
      // On a shared machine the wall times say as much about the other load
      // as about the sweep: the CPU seconds say what the sweep itself cost.
      // Each thread loads and compiles the simulator anew: the CPU --jobs N
      // adds to --jobs 1 bounds its speed-up (cores x CPU(1) / CPU(N) on an idle machine).
      { scenario: 'sweep', metric: `CPU per run, --jobs 1 and --jobs ${cores}`, value: `${((oneRun.cpuSeconds / runs) * 1000).toFixed(0)} ms and ${((allRun.cpuSeconds / runs) * 1000).toFixed(0)} ms (x${(allRun.cpuSeconds / oneRun.cpuSeconds).toFixed(2)}; ${(oneRun.cpuSeconds / one).toFixed(2)} and ${(allRun.cpuSeconds / all).toFixed(2)} cores busy)` },
      { scenario: 'sweep', metric: `speed-up on ${cores} cores`, value: `${speedup.toFixed(2)}x`, target: cores >= 2 ? '>= 1.8x on 2 cores' : undefined, ok: cores >= 2 ? speedup >= 1.8 : undefined },
      { scenario: 'sweep', metric: 'per-run cost, --jobs 1 vs warm in-process runMigration', value: `${(perRunOne * 1000).toFixed(0)} ms vs ${(inProcess * 1000).toFixed(0)} ms (${((perRunOne / inProcess) * 100).toFixed(0)}%)`, target: '<= 120%', ok: perRunOne <= inProcess * 1.2 },
      { scenario: 'sweep', metric: '1,000-run sweep, estimated', value: `${((all / runs) * 1000 / 60).toFixed(1)} min on ${cores} cores` },
    ];
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
