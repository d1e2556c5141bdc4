import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { type BenchRow, BUNDLED_CLI, childrenCpuSeconds, loadNote, median } from './bench-util.js';

const CLI = BUNDLED_CLI;
/** The same command as tsc emits it, one module a file, that the bundle is made from. */
const UNBUNDLED_CLI = join(import.meta.dirname, '..', 'src', 'cli', 'bin.js');

/** One whole process's wall time and CPU time (all its threads; NaN where not known) in seconds (the command must exit 0). */
function timeProcess(args: readonly string[], cwd: string, env: NodeJS.ProcessEnv = process.env): { wall: number; cpu: number } {
  const cpu0 = childrenCpuSeconds();
  const t0 = process.hrtime.bigint();
  const r = spawnSync(process.execPath, args, { cwd, env, stdio: ['ignore', 'ignore', 'pipe'] });
  const wall = Number(process.hrtime.bigint() - t0) / 1e9;
  const cpu1 = childrenCpuSeconds();
  if (r.status !== 0) throw new Error(`bench: node ${args.join(' ')} exited ${r.status}: ${r.stderr}`);
  return { wall, cpu: cpu0 === undefined || cpu1 === undefined ? NaN : cpu1 - cpu0 };
}

interface Paired {
  readonly a: number;
  readonly b: number;
  readonly ratio: number;
  readonly aCpu: number;
  readonly bCpu: number;
  readonly cpuRatio: number;
}

/**
 * `pairs` runs of A and B in turn (A B A B ...), after one of each not
 * counted: the median of A, of B, and of the ratios pair by pair (the
 * machine's speed drifts between pairs far more than within one), for the
 * wall time and for the CPU time.
 */
function paired(a: readonly string[], b: readonly string[], pairs: number, cwd: string, bEnv?: NodeJS.ProcessEnv): Paired {
  timeProcess(a, cwd);
  timeProcess(b, cwd, bEnv);
  const as: { wall: number; cpu: number }[] = [];
  const bs: { wall: number; cpu: number }[] = [];
  for (let k = 0; k < pairs; k++) {
    as.push(timeProcess(a, cwd));
    bs.push(timeProcess(b, cwd, bEnv));
  }
  return {
    a: median(as.map((x) => x.wall)),
    b: median(bs.map((x) => x.wall)),
    ratio: median(as.map((x, i) => x.wall / bs[i]!.wall)),
    aCpu: median(as.map((x) => x.cpu)),
    bCpu: median(bs.map((x) => x.cpu)),
    cpuRatio: median(as.map((x, i) => x.cpu / bs[i]!.cpu)),
  };
}

/**
 * Whole processes, as users run them: the CLI's start-up (`--help`, and a
 * run of 10 ms of hot-set against bare node), and `compare`'s wall time
 * against one run of its slowest tracker (shadow) on the apache default.
 * On a machine other work shares, read the ratios, and the CPU seconds
 * beside the wall seconds: under load a process gets a share of the cores,
 * and then only what it costs, not how it spreads, decides its wall time.
 */
export function processBench(apacheSeconds: number): BenchRow[] {
  const cwd = mkdtempSync(join(tmpdir(), 'migsim-bench-process-'));
  try {
    const rows: BenchRow[] = [];
    const help = paired([CLI, '--help'], ['-e', '0'], 5, cwd);
    rows.push({ scenario: 'start-up', metric: `migsim --help, whole process (median of 5; ${loadNote()})`, value: `${help.a.toFixed(3)} s (CPU ${help.aCpu.toFixed(2)} s)`, target: '< 0.2 s', ok: help.a < 0.2 });
    rows.push({ scenario: 'start-up', metric: 'the same against bare node -e 0 (median of paired ratios)', value: `${help.ratio.toFixed(2)}x (node ${help.b.toFixed(3)} s)` });
    const unbundled = paired([CLI, '--help'], [UNBUNDLED_CLI, '--help'], 5, cwd);
    rows.push({ scenario: 'start-up', metric: 'migsim --help, the bundle against one module a file (dist/src/cli/bin.js; median of paired ratios: wall, CPU)', value: `${unbundled.ratio.toFixed(2)}x wall, ${unbundled.cpuRatio.toFixed(2)}x CPU (one module a file ${unbundled.b.toFixed(3)} s)` });
    // Log-dirty rounds over 10 ms of guest time: a run that is all start-up.
    const runArgs = [CLI, 'run', 'hot-set', '--tracker', 'hap', '--duration', '10ms', '--round', '5ms', '--mem', '256MiB', '--seed', '1', '--json'];
    const run = paired(runArgs, ['-e', '0'], 5, cwd);
    rows.push({ scenario: 'start-up', metric: `run hot-set for 10 ms of guest time (the start of any run; ${loadNote()})`, value: `${run.a.toFixed(3)} s (CPU ${run.aCpu.toFixed(2)} s)`, target: '< 0.2 s', ok: run.a < 0.2 });
    // The same with the bundle's V8 code cache against Node compiling alone (src/cli/code-cache.cts).
    const cache = paired(runArgs, runArgs, 7, cwd, { ...process.env, MIGSIM_CODE_CACHE: 'off' });
    rows.push({ scenario: 'start-up', metric: 'the same with the code cache against MIGSIM_CODE_CACHE=off (median of 7 paired ratios: wall, CPU)', value: `${cache.ratio.toFixed(2)}x wall, ${cache.cpuRatio.toFixed(2)}x CPU (off: ${cache.b.toFixed(3)} s, CPU ${cache.bCpu.toFixed(2)} s)` });
    const workload = ['apache', '--duration', `${apacheSeconds}s`, '--seed', '1', '--json'];
    const cmp = paired([CLI, 'compare', ...workload], [CLI, 'run', ...workload, '--tracker', 'shadow'], 3, cwd);
    rows.push({ scenario: 'compare', metric: `compare shadow,hap,pml on apache (${apacheSeconds} s), whole process (${loadNote()})`, value: `${cmp.a.toFixed(2)} s wall, ${cmp.aCpu.toFixed(2)} s CPU` });
    rows.push({ scenario: 'compare', metric: 'the same against one run under shadow (median of 3 paired ratios: wall, CPU)', value: `${cmp.ratio.toFixed(2)}x wall, ${cmp.cpuRatio.toFixed(2)}x CPU (run ${cmp.b.toFixed(2)} s wall, ${cmp.bCpu.toFixed(2)} s CPU)`, target: '< 1.15x wall', ok: cmp.ratio < 1.15 });
    // No schedule beats the CPU spread over every core: V8's compiler threads take about half of it.
    const cores = availableParallelism();
    // Under load the wall times stretch and the CPU does not: read it against a quiet run's wall.
    rows.push({ scenario: 'compare', metric: `its floor on ${cores} cores: compare's CPU / ${cores} (a quiet machine's wall cannot be lower)`, value: `${(cmp.aCpu / cores).toFixed(2)} s (one run: ${cmp.b.toFixed(2)} s wall)` });
    return rows;
  } finally {
    rmSync(cwd, { recursive: true, force: true });
  }
}
