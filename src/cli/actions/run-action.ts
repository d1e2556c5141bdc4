import type { GuestSource } from '../../api/guest-source.js';
import { sourceWithProgress, withProgress } from '../progress.js';
import { runRounds, type RoundsSummary } from '../../api/run-rounds.js';
import { durationFormatterFor, formatBytes, formatCount, formatDurationNs } from '../../model/units.js';
import { blockTable, type Column, loadTextTables } from '../text-table.js';
import { type CliContext, EXIT_MISMATCH, EXIT_OK } from '../cli-io.js';
import { outcomeExit } from '../outcome-exit.js';
import { fmtPercent } from '../format-number.js';
import { durationOption } from '../parse-options.js';
import { runMigration } from '../../api/run-migration.js';
import { elideRounds, exitLines, migrationJson, migrationText, statLines } from '../format-migration.js';
import type { RunCliOptions, TrackerRunInputs } from '../commands/run-command.js';
import { trackerRunInputs } from './tracker-run-inputs.js';

type RecordRun = typeof import('../../api/record-run.js').recordRun;

/** `migsim run TARGET --tracker T`: loaded when the command runs. */
export async function runAction(ctx: CliContext, target: string, opts: RunCliOptions): Promise<void> {
  const { source: plain, runOptions } = await trackerRunInputs(ctx, target, opts);
  const watched = sourceWithProgress(ctx, `run ${plain.label} under ${opts.tracker}`, plain, opts.json);
  // The bar is cleared before the results are printed.
  // The trace writer (msgpackr, zod's schemas) only when a run is recorded.
  const recordRun = opts.record !== undefined ? (await import('../../api/record-run.js')).recordRun : undefined;
  // The text summary's tables; JSON has none.
  if (!opts.json) await loadTextTables();
  const r = withProgress(watched, () => runCommand(watched.source, opts, runOptions, recordRun));
  ctx.io.out(r.text);
  ctx.setExit(r.exit);
}

/** Runs the tracker; the results as text (or JSON) and whether the oracle found lost pages or PTEs. */
function runCommand(source: GuestSource, opts: RunCliOptions, runOptions: TrackerRunInputs['runOptions'], recordRun: RecordRun | undefined): { text: string; exit: number } {
  if (opts.round !== undefined) {
    const roundNs = durationOption(opts.round);
    const { superpages, p2m, costs, shadowOos, kvm } = runOptions;
    const s = runRounds(source, { tracker: opts.tracker, superpages, p2m, costs, roundNs, startNs: opts.start ?? 0, shadowOos, kvm });
    return { text: opts.json ? JSON.stringify(roundsJson(source.label, source.header.workload.seed, s), null, 2) + '\n' : roundsText(source.label, s), exit: s.lostPages > 0 ? EXIT_MISMATCH : EXIT_OK };
  }
  const request = { tracker: opts.tracker, ...runOptions };
  const s = opts.record && recordRun ? recordRun(source, request, opts.record).summary : runMigration(source, request);
  const header = runOptions.costs?.pageHeaderBytes;
  return { text: opts.json ? JSON.stringify(migrationJson(source, s, header), null, 2) + '\n' : migrationText(source, s, header), exit: outcomeExit([s.outcome]) };
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
  const at = durationFormatterFor(Math.max(0, ...s.rounds.map((r) => r.endNs)));
  const share = (x: number | undefined) => (x === undefined ? '' : fmtPercent(x));
  const columns: Column[] = [
    { head: 'round', align: 'right' },
    { head: 'end', align: 'right' },
    { head: 'dirty', align: 'right' },
    { head: 'shared', align: 'right' },
    { head: 'Jaccard', align: 'right' },
  ];
  lines.push(...blockTable(columns, elideRounds(s.rounds).map((r) => (r ? [String(r.round), at(r.endNs), formatCount(r.dirtyPages), share(r.overlapWithPrevious), share(r.jaccardWithPrevious)] : ['...', '', '', '', '']))));
  lines.push(s.lostPages ? `  LOST PAGES ${formatCount(s.lostPages)} (first pfns ${s.firstLostPfns.join(', ')}): the tracker missed writes` : '  lost pages 0 (the oracle found every write reported)');
  return lines.join('\n') + '\n';
}
