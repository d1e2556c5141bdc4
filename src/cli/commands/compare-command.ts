import type { Command } from 'commander';
import { type CompareFigure, compareTrackers, type CompareResult } from '../../api/compare.js';
import { durationFormatterFor, formatBytes, formatCount } from '../../model/units.js';
import { TRACKER_NAMES, type TrackerName } from '../../reducers/tracker.js';
import type { CliContext } from '../cli-io.js';
import { outcomeExit } from '../outcome-exit.js';
import { UsageError } from '../cli-failure.js';
import { bytesFormatterFor, fmtMbitPerSec, fmtPercent } from '../format-number.js';
import { boxTable } from '../text-table.js';
import { migrationJson } from '../format-migration.js';
import { createProgress, withProgress } from '../progress.js';
import { wrapLines } from '../../util/wrap-lines.js';
import { addMigrationOptions } from './migration-cli-options.js';
import { addWorkloadOptions } from './record-command.js';
import { addTrackerOptions, type TrackerRunCliOptions, trackerRunInputs } from './run-command.js';

/** What bare `migsim compare` runs (and `npm start`, with a fixed seed: see package.json). */
export const DEFAULT_COMPARE_TARGET = 'apache';
export const DEFAULT_COMPARE_TRACKERS: readonly TrackerName[] = ['shadow', 'hap', 'pml'];

export function registerCompare(program: Command, ctx: CliContext): void {
  const cmd = program
    .command('compare')
    .description('migrate the same guest events under several trackers and show them side by side (default: apache on HVM, shadow vs hap vs pml, xen policy)')
    .argument('[trace|workload]', 'a trace file or a built-in workload', DEFAULT_COMPARE_TARGET)
    .option('--trackers <list>', 'comma-separated trackers', DEFAULT_COMPARE_TRACKERS.join(','))
    .option('--json', 'print the summaries as JSON');
  addTrackerOptions(cmd);
  addMigrationOptions(cmd);
  addWorkloadOptions(cmd);
  cmd.action((target: string, opts: TrackerRunCliOptions & { trackers: string }) => {
    const trackers = parseTrackerList(opts.trackers);
    const { source, runOptions } = trackerRunInputs(ctx, target, opts);
    const progress = createProgress(ctx, `compare ${trackers.join(',')}`, trackers.length, { json: opts.json });
    const r = withProgress(progress, () => compareTrackers(source, trackers, runOptions, { onEach: (_tracker, _summary, run) => progress.update(run + 1) }));
    if (opts.json) {
      ctx.io.out(JSON.stringify({ source: source.label, trackers, runs: r.summaries.map((s) => migrationJson(source, s, runOptions.costs?.pageHeaderBytes)), figures: r.figures }, null, 2) + '\n');
    } else {
      const h = source.header;
      ctx.io.out(`${source.label}: ${h.guest.type} ${h.guest.paging}, ${formatBytes(h.guest.memPages * 4096)}, ${h.guest.vcpus} vCPUs, seed ${h.workload.seed}, ${r.summaries[0]?.policy} policy\n`);
      ctx.io.out(compareTable(trackers, r) + '\n');
      ctx.io.out('* marks the lowest value among completed runs, on rows where lower is better. Reproduce with --seed ' + h.workload.seed + '\n');
    }
    ctx.setExit(outcomeExit(r.summaries.map((s) => s.outcome)));
  });
}

/** The trackers `--trackers` lists, each checked. */
export function parseTrackerList(list: string): TrackerName[] {
  const trackers = list.split(',').map((t) => t.trim());
  for (const t of trackers) if (!(TRACKER_NAMES as readonly string[]).includes(t)) throw new UsageError(`unknown tracker '${t}' in --trackers (known: ${TRACKER_NAMES.join(', ')})`);
  return trackers as TrackerName[];
}

/**
 * The order rows are shown in: the headline figures, then what went on the
 * wire and when, then what it cost the guest (each live-phase figure beside
 * its whole-run one). `--json` keeps its own order (new figures after the
 * first twelve); a figure not named here goes last.
 */
const ROW_ORDER = [
  'downtime',
  'total time',
  'rounds',
  'pages sent',
  'bytes sent',
  'final pages',
  'normal pages',
  'normal bytes',
  'zero pages',
  'zero bytes',
  'pre-copy bytes',
  'stop-and-copy bytes',
  'post-copy bytes',
  'checkpoint bytes',
  'throughput',
  'pages per second',
  'dirty rate (live phase)',
  'dirty-sync-count',
  'guest slowdown (live phase)',
  'guest slowdown (whole run)',
  'vCPU stall (live phase)',
  'vCPU stall (whole run)',
  'exits and faults (live phase)',
  'exits and faults (whole run)',
  'post-copy faults',
  'post-copy fault wait',
  'tracker memory',
  'lost pages',
];

function compareTable(trackers: readonly string[], r: CompareResult): string {
  const rank = (name: string) => (ROW_ORDER.includes(name) ? ROW_ORDER.indexOf(name) : ROW_ORDER.length);
  const figures = [...r.figures].sort((a, b) => rank(a.name) - rank(b.name));
  const rows = figures.map((f) => {
    const cells = formatRow(f.unit, f.values);
    return [f.name, ...cells.map((c, i) => c + (i === f.best ? ' *' : ''))];
  });
  rows.push(['outcome', ...r.summaries.map((s) => s.outcome)]);
  rows.push(['stop rule', ...r.summaries.map((s) => wrapLines(s.stopReason, 28).join('\n'))]);
  return boxTable([{ head: '' }, ...trackers.map((t) => ({ head: t, align: 'right' as const }))], rows);
}

/** A row's values in one unit (the one its largest value needs), so that they compare at a glance. */
function formatRow(unit: CompareFigure['unit'], values: readonly number[]): string[] {
  const largest = Math.max(0, ...values);
  switch (unit) {
    case 'ns':
      return values.map(durationFormatterFor(largest));
    case 'bytes':
      return values.map(bytesFormatterFor(largest));
    case 'ratio':
      return values.map(fmtPercent);
    case 'bits/s':
      return values.map(fmtMbitPerSec);
    case 'pages/s':
      return values.map((v) => `${formatCount(v)}/s`);
    default:
      return values.map(formatCount);
  }
}
