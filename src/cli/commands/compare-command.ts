import { createRequire } from 'node:module';
import type { Command } from 'commander';
import { TRACKER_NAMES, type TrackerName } from '../../reducers/tracker.js';
import type { CliContext } from '../cli-io.js';
import { UsageError } from '../usage-error.js';
import { addMigrationOptions } from './migration-cli-options.js';
import { addWorkloadOptions } from './record-command.js';
import { addTrackerOptions, type TrackerRunCliOptions } from './run-command.js';

/** What bare `migsim compare` runs (and `npm start`, with a fixed seed: see package.json). */
export const DEFAULT_COMPARE_TARGET = 'apache';
export const DEFAULT_COMPARE_TRACKERS: readonly TrackerName[] = ['shadow', 'hap', 'pml'];

export function registerCompare(program: Command, ctx: CliContext): void {
  const cmd = program
    .command('compare')
    .description('migrate the same guest events under several trackers and show them side by side (default: apache on HVM, shadow vs hap vs pml, xen policy)')
    .argument('[trace|workload]', 'a trace file or a built-in workload', DEFAULT_COMPARE_TARGET)
    .option('--trackers <list>', 'comma-separated trackers', DEFAULT_COMPARE_TRACKERS.join(','))
    .option('--json', 'print the summaries as JSON')
    .addHelpText(
      'after',
      "\nThe guest events are generated (or read) once; the trackers run over them on the cores, trackers of one kind\n(EPT loop: hap, pml, kvm-*; page walk: shadow, direct) on one thread: on two idle cores, shadow on a worker and\nhap and pml beside the generation; fewer threads on cores the load average shows busy. The output is, byte for\nbyte, that of the trackers run one by one.",
    );
  addTrackerOptions(cmd);
  addMigrationOptions(cmd);
  addWorkloadOptions(cmd);
  cmd.action(async (target: string, opts: TrackerRunCliOptions & { trackers: string }) => {
    // The workers start first, so that their start runs beside this thread's loading of the simulator.
    const { compareThreadPlan, startCompareWorkers } = await import('../../api/compare-threads.js');
    // What else runs (the load average) decides whether a core is free for a worker; the results do not depend on it.
    // node:os here, not at the top: this file is part of every command's start.
    const { availableParallelism, loadavg } = createRequire(import.meta.url)('node:os') as typeof import('node:os');
    const plan = compareThreadPlan(parseTrackerList(opts.trackers), availableParallelism(), loadavg()[0]);
    const workers = startCompareWorkers(plan.length - 1);
    await (await import('../actions/compare-action.js')).compareAction(ctx, target, opts, { plan, workers });
  });
}

/** The trackers `--trackers` lists, each checked. */
export function parseTrackerList(list: string): TrackerName[] {
  const trackers = list.split(',').map((t) => t.trim());
  for (const t of trackers) if (!(TRACKER_NAMES as readonly string[]).includes(t)) throw new UsageError(`unknown tracker '${t}' in --trackers (known: ${TRACKER_NAMES.join(', ')})`);
  return trackers as TrackerName[];
}

