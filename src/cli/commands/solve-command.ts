import { Command } from 'commander';
import { runMigration, type MigrationSummary } from '../../api/run-migration.js';
import { formatCount, formatDurationNs, parseBandwidthBytesPerSec, parseDurationNs } from '../../model/units.js';
import type { MigrationOptions } from '../../reducers/migration/migration-options.js';
import { bisectThreshold, type ThresholdAnswer } from '../../sweep/bisect-threshold.js';
import { type CliContext, EXIT_INCOMPLETE, EXIT_MISMATCH, EXIT_OK } from '../cli-io.js';
import { UsageError } from '../cli-failure.js';
import { choiceOption } from '../parse-options.js';
import { createProgress } from '../progress.js';
import { sharedSource, shareGuest } from '../sweep/shared-guest.js';
import { type RunCliOptions } from '../sweep/sweep-runs.js';
import { addRunOptions } from './run-command.js';
import { trackerRunInputsSync as trackerRunInputs } from '../sweep/tracker-run-inputs-sync.js';

/** The knobs the solver turns, the migration option each sets, and the range it searches by default. */
const KNOBS = {
  bandwidth: { option: 'bandwidthBytesPerSec', low: '10Mbit', high: '400Gbit', kind: 'bandwidth' },
  'downtime-limit': { option: 'downtimeLimitNs', low: '1ms', high: '60s', kind: 'duration' },
  'max-bandwidth': { option: 'maxBandwidthBytesPerSec', low: '1MiB/s', high: '50GiB/s', kind: 'bandwidth' },
} as const satisfies Record<string, { option: keyof MigrationOptions; low: string; high: string; kind: 'bandwidth' | 'duration' }>;
type Knob = keyof typeof KNOBS;
const KNOB_NAMES = Object.keys(KNOBS) as Knob[];

/** `downtime<=300ms` or `total<=10s`: a bound on the run's downtime or total time. */
interface Target {
  readonly what: 'downtime' | 'total';
  readonly maxNs: number;
}

function parseTarget(text: string): Target {
  const m = /^\s*(downtime|total)\s*<=\s*(\S+)\s*$/.exec(text);
  if (!m) throw new UsageError(`--target must be downtime<=TIME or total<=TIME (downtime<=300ms), got '${text}'`);
  return { what: m[1] as Target['what'], maxNs: parseDurationNs(m[2]!) };
}

type SolveOptions = RunCliOptions & { for: Knob; target?: string; from?: string; to?: string; tolerance: string; checks: string; json?: boolean };

interface ProbeResult {
  readonly outcome: string;
  readonly downtimeNs: number;
  readonly totalNs: number;
  readonly stopReason: string;
  readonly lostPages: number;
}

export function registerSolve(program: Command, ctx: CliContext): void {
  const cmd = program
    .command('solve')
    .description('the smallest bandwidth, downtime limit or max-bandwidth at which a migration completes (and meets --target), by bisection over runs')
    .argument('<trace|workload>', 'a trace file, or a built-in workload name (then the record options apply)')
    .requiredOption('--for <knob>', `what to solve for: ${KNOB_NAMES.join(', ')}`, choiceOption('--for', KNOB_NAMES))
    .option('--target <bound>', 'also require downtime<=TIME or total<=TIME (e.g. downtime<=300ms)')
    .option('--from <value>', 'low end of the search (default: 10Mbit, 1ms, 1MiB/s)')
    .option('--to <value>', 'high end of the search (default: 400Gbit, 60s, 50GiB/s)')
    .option('--tolerance <pct>', 'stop when the answer is known within this share (percent)', '1')
    .option('--checks <n>', 'runs on each side of the answer that check the monotonicity bisection assumes', '2')
    .option('--json', 'print the answer and the runs as JSON');
  addRunOptions(cmd);
  cmd.addHelpText(
    'after',
    `
Met means: the migration completed, lost no page, and meets --target. Exit 0:
an answer, and every run agrees with it; 1: some run contradicts it (not
monotone: the answer is bisection's, shown with the runs that disagree); 3: not
met even at the high end. --seed defaults to 1 (every run migrates the same guest).`,
  );
  cmd.action((target: string, opts: SolveOptions) => {
    const knob = KNOBS[opts.for];
    const parse = knob.kind === 'bandwidth' ? parseBandwidthBytesPerSec : parseDurationNs;
    const low = parse(opts.from ?? knob.low);
    const high = parse(opts.to ?? knob.high);
    if (!(low > 0 && high > low)) throw new UsageError(`--from must be above zero and below --to (got ${opts.from ?? knob.low} and ${opts.to ?? knob.high})`);
    const tolerance = Number(opts.tolerance) / 100;
    if (!(tolerance > 0 && tolerance < 1)) throw new UsageError(`--tolerance must be a percentage between 0 and 100, got '${opts.tolerance}'`);
    const checks = Number(opts.checks);
    if (!Number.isInteger(checks) || checks < 0 || checks > 20) throw new UsageError(`--checks must be a whole number from 0 to 20, got '${opts.checks}'`);
    const goal = opts.target === undefined ? undefined : parseTarget(opts.target);

    const { source, runOptions } = trackerRunInputs(ctx, target, { ...opts, seed: opts.seed ?? 1, json: true });
    // Every run migrates the same guest: its events are generated once.
    const shared = sharedSource(shareGuest(source), source.label);
    const progress = createProgress(ctx, `solve ${opts.for}`, Math.ceil(Math.log2(Math.log(high / low) / Math.log1p(tolerance))) + 2 + 2 * checks, { json: opts.json });
    let runs = 0;
    const answer = bisectThreshold<ProbeResult>({ low, high, tolerance, checks }, (value) => {
      const s = runMigration(shared, { tracker: opts.tracker, ...runOptions, migration: { ...runOptions.migration, [knob.option]: value } });
      progress.update(++runs);
      return { met: meets(s, goal), result: probeResult(s) };
    });
    progress.stop();
    const show = knob.kind === 'bandwidth' ? formatBandwidth : formatDurationNs;
    const exit = answer.value === undefined ? EXIT_INCOMPLETE : answer.contradictions.length ? EXIT_MISMATCH : EXIT_OK;
    if (opts.json) {
      ctx.io.out(JSON.stringify({ source: source.label, seed: source.header.workload.seed, tracker: opts.tracker, policy: opts.policy, for: opts.for, target: opts.target ?? null, low, high, tolerance, answer: answer.value ?? null, below: answer.below ?? null, monotone: answer.contradictions.length === 0, runs: answer.probes.map((p) => ({ value: p.value, role: p.role, met: p.met, ...p.result })) }, null, 2) + '\n');
    } else {
      ctx.io.out(solveText(source.label, opts, goal, answer, show));
    }
    ctx.setExit(exit);
  });
}

function meets(s: MigrationSummary, goal: Target | undefined): boolean {
  if (s.outcome !== 'completed' || s.lostPages + s.lostPtes > 0) return false;
  if (!goal) return true;
  return (goal.what === 'downtime' ? s.downtimeNs : s.totalNs) <= goal.maxNs;
}

function probeResult(s: MigrationSummary): ProbeResult {
  return { outcome: s.outcome, downtimeNs: s.downtimeNs, totalNs: s.totalNs, stopReason: s.stopReason, lostPages: s.lostPages };
}

function formatBandwidth(bytesPerSec: number): string {
  return `${((bytesPerSec * 8) / 1e9).toFixed(4)} Gbit/s`;
}

function solveText(label: string, opts: SolveOptions, goal: Target | undefined, a: ThresholdAnswer<ProbeResult>, show: (v: number) => string): string {
  const want = `completes${goal ? ` with ${goal.what} <= ${formatDurationNs(goal.maxNs)}` : ''}`;
  const lines = [`solve ${opts.for} for ${label} under ${opts.tracker} (${opts.policy}): the smallest value at which the migration ${want}`];
  if (a.value === undefined) lines.push(`  no answer: not met even at ${show(a.below!)} (give a larger --to, or a looser --target)`);
  else if (a.below === undefined) lines.push(`  answer   ${show(a.value)} or less: met already at the low end (give a smaller --from)`);
  else lines.push(`  answer   ${show(a.value)} (not met at ${show(a.below)})`);
  lines.push(`  runs (${formatCount(a.probes.length)}, in the order made):`, `    ${'value'.padStart(18)}  ${'met'.padEnd(3)}  ${'outcome'.padEnd(10)} ${'downtime'.padStart(12)} ${'total'.padStart(12)}  role`);
  for (const p of a.probes) {
    const r = p.result;
    lines.push(`    ${show(p.value).padStart(18)}  ${(p.met ? 'yes' : 'no').padEnd(3)}  ${r.outcome.padEnd(10)} ${formatDurationNs(r.downtimeNs).padStart(12)} ${formatDurationNs(r.totalNs).padStart(12)}  ${p.role}`);
  }
  if (a.contradictions.length) {
    lines.push(`  NOT MONOTONE: ${a.contradictions.map((p) => `${p.met ? 'met' : 'not met'} at ${show(p.value)}`).join(', ')}; the answer above is bisection's, and another value may be the smallest`);
  } else if (a.value !== undefined && a.below !== undefined) {
    lines.push(`  monotone: all ${formatCount(a.probes.length)} runs agree (not met at or below ${show(a.below)}, met at or above ${show(a.value)})`);
  }
  return lines.join('\n') + '\n';
}
