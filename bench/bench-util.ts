import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';

/** The command `migsim` runs, as users run it: the bundle beside the built benches (dist/bench → dist/cli/migsim.js; scripts/bundle-cli.mjs). */
export const BUNDLED_CLI = join(import.meta.dirname, '..', 'cli', 'migsim.js');

/** Timing and reporting helpers for the benchmark (the only clock users besides src/cli). */
export function timeIt<T>(fn: () => T): { value: T; seconds: number } {
  const t0 = process.hrtime.bigint();
  const value = fn();
  return { value, seconds: Number(process.hrtime.bigint() - t0) / 1e9 };
}

/** CPU time of the process, user + system, in seconds (every thread: the garbage collector's and compiler's too). */
export function cpuSeconds(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
}

/** The CPU time of one call of `fn` (cpuSeconds before and after). */
export function cpuTimeOf(fn: () => unknown): number {
  return measure(fn).cpuSeconds;
}

/**
 * One call of `fn`: its value, wall time and CPU time. No collection is
 * forced before it: a full collection (gc() under --expose-gc) before each
 * span made the shadow tracker's next run on apache about twice as slow in
 * CPU time (83 to 160 ns an event, the loop unchanged), a figure of the
 * forced collection, not of the tracker.
 */
export function measure<T>(fn: () => T): { value: T; seconds: number; cpuSeconds: number } {
  const c0 = cpuSeconds();
  const t0 = process.hrtime.bigint();
  const value = fn();
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  return { value, seconds, cpuSeconds: cpuSeconds() - c0 };
}

/** The geometric mean of two positive numbers. */
export function geoMean(a: number, b: number): number {
  return Math.sqrt(a * b);
}

/**
 * The first run of `fn` (JIT cold) and the best of the `runs` after it
 * (warm): a sweep of many runs sees the warm figure, a single run the cold.
 */
export function coldAndWarm<T>(runs: number, fn: () => T): { cold: { value: T; seconds: number }; warm: { value: T; seconds: number } } {
  const cold = timeIt(fn);
  let warm = timeIt(fn);
  for (let k = 1; k < runs; k++) {
    const t = timeIt(fn);
    if (t.seconds < warm.seconds) warm = t;
  }
  return { cold, warm };
}

/** The middle value (the upper of the two middle ones for an even count). */
export function median(xs: readonly number[]): number {
  return [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
}

export function mPerSec(events: number, seconds: number): string {
  return `${(events / seconds / 1e6).toFixed(1)} M/s`;
}

export function peakRssMiB(): number {
  return Math.round(process.resourceUsage().maxRSS / 1024);
}

export interface BenchRow {
  readonly scenario: string;
  readonly metric: string;
  readonly value: string;
  readonly target?: string;
  readonly ok?: boolean;
}

export function printRows(rows: readonly BenchRow[]): void {
  const w0 = Math.max(...rows.map((r) => r.scenario.length));
  const w1 = Math.max(...rows.map((r) => r.metric.length));
  const w2 = Math.max(...rows.map((r) => r.value.length));
  for (const r of rows) {
    const verdict = r.target === undefined ? '' : `  target ${r.target}${r.ok === undefined ? '' : r.ok ? '  ok' : '  MISSED'}`;
    console.log(`${r.scenario.padEnd(w0)}  ${r.metric.padEnd(w1)}  ${r.value.padStart(w2)}${verdict}`);
  }
}

/**
 * CPU seconds (user + system) of this process's children that have been
 * waited for, all their threads: Linux's cutime and cstime in /proc/self/stat
 * (clock ticks, 100 a second), or undefined elsewhere. On a machine other
 * work shares, a child's wall time says as much about that work as about
 * the child; its CPU time says what the child itself cost.
 */
export function childrenCpuSeconds(): number | undefined {
  try {
    const stat = readFileSync('/proc/self/stat', 'utf8');
    // Fields after the command name (which may hold spaces) in parentheses; cutime and cstime are fields 16 and 17.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[13]) + Number(fields[14])) / 100;
  } catch {
    return undefined;
  }
}

/** The machine's 1-minute load average and its cores, as a bench row's note ("load 1.2 on 2 cores"). */
export function loadNote(): string {
  return `load ${loadavg()[0]!.toFixed(1)} on ${availableParallelism()} cores`;
}

/**
 * CPU seconds (user + system) of this process's main thread alone: Linux's
 * utime and stime of /proc/self/task/<pid>/stat (clock ticks, 100 a
 * second), or undefined elsewhere. Beside process.cpuUsage (every thread),
 * it splits a read between the reader's thread and the read-ahead thread:
 * on a machine with a core free for each, the slower of the two sets the
 * wall time, whatever else shares the machine now.
 */
export function mainThreadCpuSeconds(): number | undefined {
  try {
    const stat = readFileSync(`/proc/self/task/${process.pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return undefined;
  }
}

let scratch: string | undefined;

/**
 * This bench process's own folder for the files it writes (captures,
 * traces), removed when the process exits: fixed names in the shared
 * temporary folder let two benches at once overwrite each other's files.
 */
export function benchScratchDir(): string {
  if (scratch === undefined) {
    const dir = mkdtempSync(join(tmpdir(), 'migsim-bench-'));
    process.on('exit', () => rmSync(dir, { recursive: true, force: true }));
    scratch = dir;
  }
  return scratch;
}
