import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type BenchRow, median } from './bench-util.js';

/** The built CLI beside this bench (dist/bench/process-bench.js → dist/src/cli/bin.js). */
const CLI = join(import.meta.dirname, '..', 'src', 'cli', 'bin.js');

/** One whole process's wall time in seconds (the command must exit 0). */
function wallSeconds(args: readonly string[], cwd: string): number {
  const t0 = process.hrtime.bigint();
  const r = spawnSync(process.execPath, args, { cwd, stdio: ['ignore', 'ignore', 'pipe'] });
  const s = Number(process.hrtime.bigint() - t0) / 1e9;
  if (r.status !== 0) throw new Error(`bench: node ${args.join(' ')} exited ${r.status}: ${r.stderr}`);
  return s;
}

/**
 * `pairs` runs of A and B in turn (A B A B ...), after one of each not
 * counted: the median of A, of B, and of the ratios pair by pair (the
 * machine's speed drifts between pairs far more than within one).
 */
function paired(a: readonly string[], b: readonly string[], pairs: number, cwd: string): { a: number; b: number; ratio: number } {
  wallSeconds(a, cwd);
  wallSeconds(b, cwd);
  const as: number[] = [];
  const bs: number[] = [];
  for (let k = 0; k < pairs; k++) {
    as.push(wallSeconds(a, cwd));
    bs.push(wallSeconds(b, cwd));
  }
  return { a: median(as), b: median(bs), ratio: median(as.map((x, i) => x / bs[i]!)) };
}

/**
 * Whole processes, as users run them: the CLI's start-up (`--help`, and a
 * run of 10 ms of hot-set against bare node), and `compare`'s wall time
 * against one run of its slowest tracker (shadow) on the apache default.
 * On a machine other work shares, read the ratios.
 */
export function processBench(apacheSeconds: number): BenchRow[] {
  const cwd = mkdtempSync(join(tmpdir(), 'migsim-bench-process-'));
  try {
    const rows: BenchRow[] = [];
    const help = paired([CLI, '--help'], ['-e', '0'], 5, cwd);
    rows.push({ scenario: 'start-up', metric: 'migsim --help, whole process (median of 5)', value: `${help.a.toFixed(3)} s`, target: '< 0.2 s', ok: help.a < 0.2 });
    rows.push({ scenario: 'start-up', metric: 'the same against bare node -e 0 (median of paired ratios)', value: `${help.ratio.toFixed(2)}x (node ${help.b.toFixed(3)} s)` });
    // Log-dirty rounds over 10 ms of guest time: a run that is all start-up.
    const run = paired([CLI, 'run', 'hot-set', '--tracker', 'hap', '--duration', '10ms', '--round', '5ms', '--mem', '256MiB', '--seed', '1', '--json'], ['-e', '0'], 5, cwd);
    rows.push({ scenario: 'start-up', metric: 'run hot-set for 10 ms of guest time (the start of any run)', value: `${run.a.toFixed(3)} s`, target: '< 0.2 s', ok: run.a < 0.2 });
    const workload = ['apache', '--duration', `${apacheSeconds}s`, '--seed', '1', '--json'];
    const cmp = paired([CLI, 'compare', ...workload], [CLI, 'run', ...workload, '--tracker', 'shadow'], 3, cwd);
    rows.push({ scenario: 'compare', metric: `compare shadow,hap,pml on apache (${apacheSeconds} s), whole process`, value: `${cmp.a.toFixed(2)} s wall` });
    rows.push({ scenario: 'compare', metric: 'the same against one run under shadow (median of 3 paired ratios)', value: `${cmp.ratio.toFixed(2)}x`, target: '< 1.15x', ok: cmp.ratio < 1.15 });
    return rows;
  } finally {
    rmSync(cwd, { recursive: true, force: true });
  }
}
