import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import type { TrackerName } from '../reducers/tracker.js';

/**
 * A comparison's thread plan, and its workers started before the simulator
 * is loaded. This module imports nothing of the simulator (only types), so
 * that the CLI can start the workers at its first step: a worker's start
 * (node's bootstrap of a new isolate, then loading and compiling the
 * simulator's modules, about 0.1 s of CPU) then runs beside the main
 * thread's own loading instead of after it. The results never depend on
 * the plan: a simulation depends only on the guest events it is given.
 */

const WORKER_URL = new URL('./compare-worker.js', import.meta.url);

/**
 * Relative CPU of each tracker's run over a guest, from a cold start (each
 * thread compiles the simulator anew), in units of a HAP run; and of
 * generating the guest, which the main thread does. Measured on the apache
 * default (10 s, seed 1; main-thread CPU read from /proc/thread-self/stat):
 * generation with the workload's set-up about 0.30 s, shadow 0.15, hap
 * 0.10, pml 0.10. They only balance the threads; the results do not depend
 * on them.
 */
const TRACKER_COST: Readonly<Record<TrackerName, number>> = { shadow: 1.5, hap: 1, pml: 1, direct: 1.3, 'kvm-wp': 1, 'kvm-pml': 1, 'kvm-ring': 1 };
const GENERATION_COST = 3;
/** What a worker costs before its first batch, beyond the main thread's own start (which it overlaps when started early). */
const WORKER_START_COST = 0.5;

/**
 * How many threads a comparison simulates on: one per core, no more than
 * there are trackers, and one when `busyCores` (what else the machine runs,
 * as its load average says) leaves no core spare. A worker costs CPU of its
 * own (its start, and its own copy of the simulator's compiled code: V8
 * compiles per isolate), which buys wall time only on an idle core; on a
 * machine already busy the same work on fewer threads is what finishes
 * first.
 */
export function simulationThreads(trackerCount: number, cores: number, busyCores = 0): number {
  const spare = Math.floor(cores - busyCores);
  return Math.max(1, Math.min(trackerCount, cores, spare));
}

/**
 * Which thread runs each tracker: `threads[0]` is the main thread, which
 * also generates the guest, the others workers. Longest first, each to the
 * thread with the least work so far (the main thread on a tie: it needs no
 * copy of the batches nor its own compiled simulator). A worker left with
 * nothing to run is not in the plan.
 */
export function assignTrackers(trackers: readonly TrackerName[], threadCount: number): number[][] {
  const load = Array.from({ length: threadCount }, (_, t) => (t === 0 ? GENERATION_COST : WORKER_START_COST));
  const threads: number[][] = Array.from({ length: threadCount }, () => []);
  const order = trackers.map((_, i) => i).sort((a, b) => TRACKER_COST[trackers[b]!] - TRACKER_COST[trackers[a]!] || a - b);
  for (const run of order) {
    let best = 0;
    for (let t = 1; t < threadCount; t++) if (load[t]! < load[best]!) best = t;
    threads[best]!.push(run);
    load[best]! += TRACKER_COST[trackers[run]!];
  }
  return [threads[0]!.sort((a, b) => a - b), ...threads.slice(1).filter((t) => t.length > 0).map((t) => t.sort((a, b) => a - b))];
}

/** The thread plan for `trackers` on `cores` (see simulationThreads, assignTrackers); one thread where no built worker module exists (the sources run unbuilt, as under vitest). */
export function compareThreadPlan(trackers: readonly TrackerName[], cores: number, busyCores = 0): number[][] {
  const threadCount = trackers.length < 2 || !workerModuleExists() ? 1 : simulationThreads(trackers.length, cores, busyCores);
  return threadCount === 1 ? [trackers.map((_, run) => run)] : assignTrackers(trackers, threadCount);
}

function workerModuleExists(): boolean {
  return existsSync(fileURLToPath(WORKER_URL));
}

/**
 * Node's options for a worker: this process's, as Worker passes them by
 * default, but for those of a program given as a string (`node
 * --input-type=module -e ...`), which a worker run from a file refuses
 * (ERR_INPUT_TYPE_NOT_ALLOWED), so that a comparison started that way
 * would run in order, on one thread.
 */
export function workerExecArgv(execArgv: readonly string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < execArgv.length; i++) {
    const a = execArgv[i]!;
    if (/^(--input-type|--eval|-e|--print|-p)$/.test(a)) i++;
    else if (!/^(--input-type|--eval|--print)=/.test(a)) out.push(a);
  }
  return out;
}

/**
 * `count` compare workers, started now: each loads the simulator at once
 * and then waits for its setup message (compareTrackersOnCores sends it).
 * They are unref'd until a comparison takes them, so a command that fails
 * before (bad input) still exits; one not taken is ended with the process.
 */
export function startCompareWorkers(count: number): Worker[] {
  if (count <= 0 || !workerModuleExists()) return [];
  return Array.from({ length: count }, () => {
    const w = newWorker(workerExecArgv(process.execArgv));
    w.unref();
    // An error before a comparison takes it (it failed to load, say) is the comparison's to see: it then runs in order.
    w.on('error', () => {});
    return w;
  });
}

/**
 * A worker with node's options, or with none where they hold one a worker
 * refuses (ERR_WORKER_INVALID_EXEC_ARGV: V8's own, as --max-old-space-size
 * or --stack-size, and those of the whole process); V8's options are the
 * process's, so the worker still runs under them.
 */
function newWorker(execArgv: string[]): Worker {
  try {
    return new Worker(WORKER_URL, { execArgv });
  } catch (e) {
    if ((e as { code?: string }).code !== 'ERR_WORKER_INVALID_EXEC_ARGV') throw e;
    return new Worker(WORKER_URL, { execArgv: [] });
  }
}
