import type { Command } from 'commander';
import { InvalidArgumentError } from 'commander';
import { type GuestSource, guestSource } from '../../api/guest-source.js';
import { sourceWithProgress } from '../progress.js';
import { runRounds, type RoundsSummary } from '../../api/run-rounds.js';
import { type CostModel, DEFAULT_COSTS, loadCostModel } from '../../model/cost-model.js';
import { formatBytes, formatDurationNs } from '../../model/units.js';
import { P2M_PAGE_SIZES, type P2mPageSize, SUPERPAGE_POLICIES, type SuperpagePolicy, TRACKER_NAMES, type TrackerName } from '../../reducers/tracker.js';
import { type CliContext, EXIT_MISMATCH } from '../cli-io.js';
import { fmtInt, fmtPercent } from '../format-number.js';
import { durationOption } from '../parse-options.js';
import { addMigrationOptions, type MigrationCliOptions, migrationFromCli } from './migration-cli-options.js';
import { runMigration } from '../../api/run-migration.js';
import { recordRun } from '../../api/record-run.js';
import { migrationJson, migrationText } from '../format-migration.js';
import { addWorkloadOptions, chooseSeed, type GuestCliOptions } from './record-command.js';

export function choiceOption<T extends string>(what: string, choices: readonly T[]): (s: string) => T {
  return (s) => {
    if (!(choices as readonly string[]).includes(s)) throw new InvalidArgumentError(`${what} must be one of ${choices.join(', ')}`);
    return s as T;
  };
}

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
  cmd.action((target: string, opts: GuestCliOptions & TrackerCliOptions & MigrationCliOptions & { tracker: TrackerName; round?: string; record?: string; json?: boolean }) => {
    const seed = chooseSeed(opts.seed);
    const plain = guestSource(target, { seed, durationNs: opts.duration, memBytes: opts.mem, vcpus: opts.vcpus, guest: opts.guest, paging: opts.paging, settings: opts.set ?? {} });
    const costs = opts.costs ? loadCostModel(opts.costs) : DEFAULT_COSTS;
    if (!opts.json) ctx.io.err(`seed ${plain.header.workload.seed}\n`);
    const watched = sourceWithProgress(ctx, `run ${plain.label} under ${opts.tracker}`, plain, opts.json);
    const source = watched.source;
    try {
      runCommand(ctx, source, opts, costs);
    } finally {
      watched.stop();
    }
  });
}

function runCommand(
  ctx: CliContext,
  source: GuestSource,
  opts: GuestCliOptions & TrackerCliOptions & MigrationCliOptions & { tracker: TrackerName; round?: string; record?: string; json?: boolean },
  costs: CostModel,
): void {
  {
    if (opts.round !== undefined) {
      const roundNs = durationOption(opts.round);
      const s = runRounds(source, { tracker: opts.tracker, superpages: opts.superpages, p2m: opts.p2m, costs, roundNs, startNs: opts.start ?? 0, shadowOos: Boolean(opts.shadowOos) });
      ctx.io.out(opts.json ? JSON.stringify(roundsJson(source.label, source.header.workload.seed, s), null, 2) + '\n' : roundsText(source.label, s));
      if (s.lostPages > 0) ctx.setExit(EXIT_MISMATCH);
      return;
    }
    const request = { tracker: opts.tracker, superpages: opts.superpages, p2m: opts.p2m, costs, migration: migrationFromCli(opts, source.header.workload.durationNs), shadowOos: Boolean(opts.shadowOos) };
    const s = opts.record ? recordRun(source, request, opts.record).summary : runMigration(source, request);
    ctx.io.out(opts.json ? JSON.stringify(migrationJson(source, s), null, 2) + '\n' : migrationText(source, s));
    if (s.lostPages > 0 || s.lostPtes > 0) ctx.setExit(EXIT_MISMATCH);
  }
}

export function roundsJson(label: string, seed: number, s: RoundsSummary): Record<string, unknown> {
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
    rounds: s.rounds.map((r) => ({ round: r.round, startNs: Math.round(r.startNs), endNs: Math.round(r.endNs), dirtyPages: r.dirtyPages })),
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
    `  guest      ${fmtInt(s.guestEvents)} events over ${formatDurationNs(s.guestNs)}; wall ${formatDurationNs(s.wallNs)}; slowdown ${fmtPercent(s.slowdown)}`,
    `  stall      ${formatDurationNs(s.stallNs)} in all (${s.stallNsByVcpu.map((n) => formatDurationNs(n)).join(', ')} by vCPU)`,
    `  memory     ${formatBytes(s.trackerMemoryBytes)} of tracker memory`,
    '  exits and operations:',
  ];
  for (const [k, v] of Object.entries(s.exits)) lines.push(`    ${k.padEnd(16)} ${fmtInt(v.count).padStart(12)}  ${formatDurationNs(v.costNs).padStart(12)}`);
  const stats = Object.entries(s.trackerStats);
  if (stats.length) lines.push(`  tracker    ${stats.map(([k, v]) => `${k} ${fmtInt(v)}`).join(', ')}`);
  lines.push('  rounds (dirty pages at each CLEAN):');
  const shown = s.rounds.length > 40 ? [...s.rounds.slice(0, 20), undefined, ...s.rounds.slice(-20)] : s.rounds;
  for (const r of shown) lines.push(r ? `    ${String(r.round).padStart(4)}  ${formatDurationNs(r.endNs).padStart(12)}  ${fmtInt(r.dirtyPages).padStart(10)}` : '    ...');
  lines.push(s.lostPages ? `  LOST PAGES ${fmtInt(s.lostPages)} (first pfns ${s.firstLostPfns.join(', ')}): the tracker missed writes` : '  lost pages 0 (the oracle found every write reported)');
  return lines.join('\n') + '\n';
}
