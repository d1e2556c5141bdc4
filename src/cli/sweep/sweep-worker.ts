import { executeRun, generateGuest, type RunTask } from './execute-run.js';
import type { GuestColumns, SharedGuest } from './shared-guest.js';

/**
 * A sweep's worker thread (tinypool): generates a guest's events once for
 * the runs that share them (into the buffers of a guest that is done, when
 * given), or runs one run. Below src/cli
 * the core reads no clock: the run's timing is taken here.
 */
export type WorkerTask =
  | { readonly kind: 'guest'; readonly run: Pick<RunTask, 'target' | 'opts'>; readonly reuse?: GuestColumns }
  | { readonly kind: 'run'; readonly run: RunTask; readonly guest?: SharedGuest };

export default function sweepWorker(task: WorkerTask): unknown {
  if (task.kind === 'guest') return generateGuest(task.run, task.reuse);
  return executeRun(task.run, task.guest, () => performance.now());
}
