import { executeRun, generateGuest, type RunTask } from './execute-run.js';
import type { SharedGuest } from './shared-guest.js';

/**
 * A sweep's worker thread (tinypool): generates a guest's events once for
 * the runs that share them, or runs one run. Below src/cli the core reads
 * no clock: the run's timing is taken here.
 */
export type WorkerTask = { readonly kind: 'guest'; readonly argv: readonly string[] } | { readonly kind: 'run'; readonly run: RunTask; readonly guest?: SharedGuest };

export default function sweepWorker(task: WorkerTask): unknown {
  if (task.kind === 'guest') return generateGuest(task.argv);
  return executeRun(task.run, task.guest, () => performance.now());
}
