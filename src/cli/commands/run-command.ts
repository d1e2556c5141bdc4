import type { Command } from 'commander';
import { type GuestSource, guestSource } from '../../api/guest-source.js';
import { sourceWithProgress, withProgress } from '../progress.js';
import { runRounds, type RoundsSummary } from '../../api/run-rounds.js';
import { DEFAULT_COSTS, loadCostModel } from '../../model/cost-model.js';
import { formatBytes, formatCount, formatDurationNs } from '../../model/units.js';
import { P2M_PAGE_SIZES, type P2mPageSize, SUPERPAGE_POLICIES, type SuperpagePolicy, TRACKER_NAMES, type TrackerName } from '../../reducers/tracker.js';
import { type CliContext, EXIT_MISMATCH, EXIT_OK } from '../cli-io.js';
import { outcomeExit } from '../outcome-exit.js';
import { UsageError } from '../cli-failure.js';
import { fmtPercent } from '../format-number.js';
import { choiceOption, durationOption } from '../parse-options.js';
import { addMigrationOptions, type MigrationCliOptions, migrationFromCli } from './migration-cli-options.js';
import { type MigrationRunOptions, runMigration } from '../../api/run-migration.js';
import { recordRun } from '../../api/record-run.js';
import { elideRounds, exitLines, migrationJson, migrationText, statLines } from '../format-migration.js';
import { addWorkloadOptions, chooseSeed, type GuestCliOptions } from './record-command.js';

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

/**
 * The guest events a tracker-running command migrates, and the run options
 * its flags give (all but the tracker). The seed is printed first, unless
 * the command prints JSON, so every run can be reproduced.
 */
/** The guest source a run command names, and everything of its run request but the tracker. */
export interface TrackerRunInputs {
  readonly source: GuestSource;
  readonly runOptions: Omit<MigrationRunOptions, 'tracker'>;
}

export function trackerRunInputs(ctx: CliContext, target: string, opts: TrackerRunCliOptions): TrackerRunInputs {
  const source = guestSource(target, { seed: chooseSeed(opts.seed), durationNs: opts.duration, memBytes: opts.mem, vcpus: opts.vcpus, guest: opts.guest, paging: opts.paging, settings: opts.set ?? {} });
  const costs = opts.costs ? loadCostModel(opts.costs) : DEFAULT_COSTS;
  if (!opts.json) ctx.io.err(`seed ${source.header.workload.seed}\n`);
  const guestNs = source.header.workload.durationNs;
  const migration = migrationFromCli(opts, guestNs);
  if (migration.startNs! >= guestNs) {
    throw new UsageError(`--start ${formatDurationNs(migration.startNs!)} is at or after the guest's end (${formatDurationNs(guestNs)} of guest events): nothing would run; give a --start below that, or a longer --duration`);
  }
  const runOptions = { superpages: opts.superpages, p2m: opts.p2m, costs, migration, shadowOos: Boolean(opts.shadowOos) };
  return { source, runOptions };
}

type RunCliOptions = TrackerRunCliOptions & { tracker: TrackerName; round?: string; record?: string };

function addTrackerChoice(cmd: Command): Command {
  return cmd.requiredOption('--tracker <name>', `tracker: ${TRACKER_NAMES.join(', ')}`, choiceOption('--tracker', TRACKER_NAMES));
}

/** The options of one migration run: `run` takes them as flags, a sweep's grid as keys (src/cli/sweep/sweep-runs.ts). */
export function addRunOptions(cmd: Command): Command {
  addTrackerChoice(cmd);
  addTrackerOptions(cmd);
  addMigrationOptions(cmd);
  return addWorkloadOptions(cmd);
}

export function registerRun(program: Command, ctx: CliContext): void {
  const cmd = program
    .command('run')
    .description('migrate a trace or workload under a dirty-page tracker and a policy (or, with --round, run fixed log-dirty rounds)')
    .argument('<trace|workload>', 'a trace file, or a built-in workload name (then the record options apply)');
  addTrackerChoice(cmd)
    .option('--round <time>', 'no migration: log-dirty rounds of this length (CLEAN interval), from --start')
    .option('--record <run.mst>', 'write the guest and run events to a run trace (replay with migsim replay --verify)')
    .option('--json', 'print the summary as JSON');
  addTrackerOptions(cmd);
  addMigrationOptions(cmd);
  addWorkloadOptions(cmd);
  cmd.action((target: string, opts: RunCliOptions) => {
    const { source: plain, runOptions } = trackerRunInputs(ctx, target, opts);
    const watched = sourceWithProgress(ctx, `run ${plain.label} under ${opts.tracker}`, plain, opts.json);
    // The bar is cleared before the results are printed.
    const r = withProgress(watched, () => runCommand(watched.source, opts, runOptions));
    ctx.io.out(r.text);
    ctx.setExit(r.exit);
  });
}

/** Runs the tracker; the results as text (or JSON) and whether the oracle found lost pages or PTEs. */
function runCommand(source: GuestSource, opts: RunCliOptions, runOptions: TrackerRunInputs['runOptions']): { text: string; exit: number } {
  if (opts.round !== undefined) {
    const roundNs = durationOption(opts.round);
    const { superpages, p2m, costs, shadowOos } = runOptions;
    const s = runRounds(source, { tracker: opts.tracker, superpages, p2m, costs, roundNs, startNs: opts.start ?? 0, shadowOos });
    return { text: opts.json ? JSON.stringify(roundsJson(source.label, source.header.workload.seed, s), null, 2) + '\n' : roundsText(source.label, s), exit: s.lostPages > 0 ? EXIT_MISMATCH : EXIT_OK };
  }
  const request = { tracker: opts.tracker, ...runOptions };
  const s = opts.record ? recordRun(source, request, opts.record).summary : runMigration(source, request);
  return { text: opts.json ? JSON.stringify(migrationJson(source, s), null, 2) + '\n' : migrationText(source, s), exit: outcomeExit([s.outcome]) };
}

function roundsJson(label: string, seed: number, s: RoundsSummary): Record<string, unknown> {
  return {
    source: label,
    seed,
    tracker: s.tracker,
    superpages: s.superpages,
    p2m: s.p2m,
    roundNs: s.roundNs,
    guestEvents: s.guestEvents,
    guestNs: s.guestNs,
    wallNs: s.wallNs,
    rounds: s.rounds.map((r) => ({
      round: r.round,
      startNs: Math.round(r.startNs),
      endNs: Math.round(r.endNs),
      dirtyPages: r.dirtyPages,
      ...(r.overlapWithPrevious !== undefined ? { overlapWithPrevious: r.overlapWithPrevious, jaccardWithPrevious: r.jaccardWithPrevious } : {}),
    })),
    exits: Object.fromEntries(Object.entries(s.exits).map(([k, v]) => [k, { count: v.count, costNs: Math.round(v.costNs) }])),
    stallNs: s.stallNs,
    stallNsByVcpu: s.stallNsByVcpu,
    slowdown: s.slowdown,
    trackerMemoryBytes: s.trackerMemoryBytes,
    trackerStats: s.trackerStats,
    lostPages: s.lostPages,
    firstLostPfns: s.firstLostPfns,
  };
}

function roundsText(label: string, s: RoundsSummary): string {
  const lines = [
    `${label} under ${s.tracker} (superpages ${s.superpages}, p2m ${s.p2m}), log-dirty rounds of ${formatDurationNs(s.roundNs)}`,
    `  guest      ${formatCount(s.guestEvents)} events over ${formatDurationNs(s.guestNs)}; wall ${formatDurationNs(s.wallNs)}; slowdown ${fmtPercent(s.slowdown)}`,
    `  stall      ${formatDurationNs(s.stallNs)} in all (${s.stallNsByVcpu.map((n) => formatDurationNs(n)).join(', ')} by vCPU)`,
    `  memory     ${formatBytes(s.trackerMemoryBytes)} of tracker memory`,
    '  exits and operations:',
  ];
  lines.push(...exitLines(s.exits));
  if (Object.keys(s.trackerStats).length) lines.push('  tracker counts:', ...statLines(s.trackerStats));
  lines.push('  rounds (dirty pages at each CLEAN; shared with the round before: share of this round, Jaccard):');
  const share = (x: number | undefined) => (x === undefined ? '' : `${(x * 100).toFixed(1)}%`.padStart(8));
  for (const r of elideRounds(s.rounds)) lines.push(r ? `    ${String(r.round).padStart(4)}  ${formatDurationNs(r.endNs).padStart(12)}  ${formatCount(r.dirtyPages).padStart(10)}${share(r.overlapWithPrevious)}${share(r.jaccardWithPrevious)}` : '    ...');
  lines.push(s.lostPages ? `  LOST PAGES ${formatCount(s.lostPages)} (first pfns ${s.firstLostPfns.join(', ')}): the tracker missed writes` : '  lost pages 0 (the oracle found every write reported)');
  return lines.join('\n') + '\n';
}
