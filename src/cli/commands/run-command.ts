import type { Command } from 'commander';
import { P2M_PAGE_SIZES, type P2mPageSize, SUPERPAGE_POLICIES, type SuperpagePolicy, TRACKER_NAMES, type TrackerName } from '../../reducers/tracker.js';
import { choiceOption } from '../parse-options.js';
import { addMigrationOptions, type MigrationCliOptions } from './migration-cli-options.js';
import type { MigrationRunOptions } from '../../api/run-migration.js';
import type { GuestSource } from '../../api/guest-source.js';
import type { CliContext } from '../cli-io.js';
import { addWorkloadOptions, type GuestCliOptions } from './record-command.js';

export interface TrackerCliOptions {
  superpages: SuperpagePolicy;
  p2m: P2mPageSize;
  costs?: string;
  shadowOos?: boolean;
}

/** Options every tracker-running command shares. */
export function addTrackerOptions(cmd: Command): Command {
  return cmd
    .option('--superpages <policy>', `PML superpage policy: ${SUPERPAGE_POLICIES.join(', ')}`, choiceOption('--superpages', SUPERPAGE_POLICIES), 'split')
    .option('--p2m <size>', `HVM p2m backing: ${P2M_PAGE_SIZES.join(', ')} (Xen: 2m where aligned)`, choiceOption('--p2m', P2M_PAGE_SIZES), '2m')
    .option('--costs <file.json>', 'override cost-model defaults (names as in src/model/cost-model.ts)')
    .option('--shadow-oos', "shadow: Xen's out-of-sync L1 optimisation (HVM guests)");
}

/** The flags of a command that migrates guest events under trackers: run, compare, report --compare. */
export type TrackerRunCliOptions = GuestCliOptions & TrackerCliOptions & MigrationCliOptions & { json?: boolean };

/** The guest source a run command names, and everything of its run request but the tracker. */
export interface TrackerRunInputs {
  readonly source: GuestSource;
  readonly runOptions: Omit<MigrationRunOptions, 'tracker'>;
}

export type RunCliOptions = TrackerRunCliOptions & { tracker: TrackerName; round?: string; record?: string };

export function registerRun(program: Command, ctx: CliContext): void {
  const cmd = program
    .command('run')
    .description('migrate a trace or workload under a dirty-page tracker and a policy (or, with --round, run fixed log-dirty rounds)')
    .argument('<trace|workload>', 'a trace file, or a built-in workload name (then the record options apply)')
    .requiredOption('--tracker <name>', `tracker: ${TRACKER_NAMES.join(', ')}`, choiceOption('--tracker', TRACKER_NAMES))
    .option('--round <time>', 'no migration: log-dirty rounds of this length (CLEAN interval), from --start')
    .option('--record <run.mst>', 'write the guest and run events to a run trace (replay with migsim replay --verify)')
    .option('--json', 'print the summary as JSON');
  addTrackerOptions(cmd);
  addMigrationOptions(cmd);
  addWorkloadOptions(cmd);
  cmd.action(async (target: string, opts: RunCliOptions) => (await import('../actions/run-action.js')).runAction(ctx, target, opts));
}

