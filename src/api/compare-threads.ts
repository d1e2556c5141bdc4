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
 * The trackers whose accesses run in the EPT loop (src/reducers/ept-run.ts,
 * runUnderEpt: Simulation takes it for a tracker with `gates`); the others
 * (shadow, direct) walk the guest's page tables through the MMU
 * (walk-x86-64.ts) and take each access in Tracker.process. Each thread
 * compiles the code its trackers use, in its own isolate, and V8 compiles
 * it again each time a tracker of the other kind meets it and its type
 * feedback no longer holds: trackers of one kind share a thread.
 * test/cli/compare-on-cores.test.ts holds this list to the trackers'
 * `gates`.
 */
export const EPT_LOOP_TRACKERS: readonly TrackerName[] = ['hap', 'pml', 'kvm-wp', 'kvm-pml', 'kvm-ring'];

/**
 * Which thread runs each tracker: `threads[0]` is the main thread, which
 * also generates the guest, the others workers; each list in the
 * comparison's order. Trackers of one kind (EPT_LOOP_TRACKERS or not) go
 * to one thread: the kind with more trackers (the first listed on a tie)
 * stays on the main thread, which needs no copy of the batches and has no
 * thread to start; the other kind gets a worker (with one core, everything
 * stays here). A kind is split over more threads only with a core left
 * over for V8's compiler besides them: the largest group gives one tracker
 * at a time to a new worker (the main thread's last).
 *
 * Measured on two cores (the apache default, 10 s; CPU from
 * /proc/<pid>/task, medians of five runs, the machine under load): hap and
 * pml here with shadow on a worker took 2.66 s of CPU in all, 0.94 s of it
 * on the main thread, against 3.05 s and 1.39 s with every tracker here;
 * shadow here with hap and pml on a worker 3.00 s (0.88 s), everything on
 * a worker 2.87 s (0.67 s). The compiler's threads took about half of each.
 * The gain is the main thread's shorter path, which only a free core turns
 * into wall time: as whole processes on that loaded machine (load average
 * 11 on 2 cores, nine pairs) this plan took 1.01x the wall time and 1.06x
 * the CPU of every tracker here, at load 6-9 (seven pairs) 1.04x and 1.09x:
 * compareThreadPlan keeps one thread when no core is idle. One kind split over two threads costs CPU
 * for nothing: hap here and pml on a worker took 1.97 s, against 1.66 s
 * both here.
 */
export function assignTrackers(trackers: readonly TrackerName[], cores: number): number[][] {
  const ept = (run: number) => EPT_LOOP_TRACKERS.includes(trackers[run]!);
  const runs = trackers.map((_, run) => run);
  const kinds = [runs.filter(ept), runs.filter((run) => !ept(run))].filter((k) => k.length > 0);
  // The larger kind first, the first listed on a tie.
  kinds.sort((a, b) => b.length - a.length || a[0]! - b[0]!);
  if (cores < 2) return [runs];
  const [main = [], ...workers] = kinds;
  while (1 + workers.length < Math.min(trackers.length, cores - 1)) {
    const largest = workers.reduce((best, w, i) => (w.length > (workers[best]?.length ?? 1) ? i : best), -1);
    if (largest >= 0) workers.push([workers[largest]!.pop()!]);
    else if (main.length > 1) workers.push([main.pop()!]);
    else break;
  }
  const inOrder = (t: number[]) => t.sort((a, b) => a - b);
  return [inOrder(main), ...workers.map(inOrder).sort((a, b) => a[0]! - b[0]!)];
}

/**
 * The thread plan for `trackers` on `cores` (assignTrackers) of which
 * `busyCores` are taken by other work (the CLI passes the load average):
 * the plan counts the cores the load leaves idle, even in part, plus the
 * one this process runs on, since the load average also counts this
 * process's own threads and those of the command run just before it: one
 * thread only when every core is busy. A worker buys wall
 * time only on an idle core; where every core is busy, the same work on
 * fewer threads (less CPU in all: one isolate compiles) finished as soon or
 * sooner (see assignTrackers). Measured on two cores, apache 10 s, five
 * runs each: at a load average of 1.5-1.9 (the runs before it) the plan
 * with a worker took a median 1.35 s against 1.50 s on one thread; at load
 * 6-9 it took 1.04x the one thread's time, at 11 1.01x. One thread where no
 * built worker module exists (the sources run unbuilt, as under vitest).
 */
export function compareThreadPlan(trackers: readonly TrackerName[], cores: number, busyCores = 0): number[][] {
  const free = Math.max(1, Math.min(cores, Math.ceil(cores - Math.max(0, busyCores)) + 1));
  return workerModuleExists() ? assignTrackers(trackers, Math.min(cores, free)) : [trackers.map((_, run) => run)];
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
