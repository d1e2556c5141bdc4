import type { CompareFigure, CompareResult } from '../../api/compare.js';
import { type CompareThreads, compareTrackersOnCores } from '../../api/compare-on-cores.js';
import { durationFormatterFor, formatBytes, formatCount } from '../../model/units.js';
import type { CliContext } from '../cli-io.js';
import { outcomeExit } from '../outcome-exit.js';
import { bytesFormatterFor, fmtMbitPerSec, fmtPercent } from '../format-number.js';
import { boxTable, loadTextTables } from '../text-table.js';
import { migrationJson } from '../format-migration.js';
import { createProgress, withProgressAsync } from '../progress.js';
import { wrapLines } from '../../util/wrap-lines.js';
import { parseTrackerList } from '../commands/compare-command.js';
import type { TrackerRunCliOptions } from '../commands/run-command.js';
import { trackerRunInputs } from './tracker-run-inputs.js';

/** `migsim compare [TARGET]`: loaded when the command runs. */
export async function compareAction(ctx: CliContext, target: string, opts: TrackerRunCliOptions & { trackers: string }, threads?: CompareThreads): Promise<void> {
  const trackers = parseTrackerList(opts.trackers);
  const { source, runOptions } = await trackerRunInputs(ctx, target, opts);
  if (!opts.json) await loadTextTables();
  const progress = createProgress(ctx, `compare ${trackers.join(',')}`, trackers.length, { json: opts.json });
  let done = 0;
  const r = await withProgressAsync(progress, () => compareTrackersOnCores(source, trackers, runOptions, { onEach: () => progress.update(++done) }, threads));
  if (opts.json) {
    ctx.io.out(JSON.stringify({ source: source.label, trackers, runs: r.summaries.map((s) => migrationJson(source, s, runOptions.costs?.pageHeaderBytes)), figures: r.figures }, null, 2) + '\n');
  } else {
    const h = source.header;
    ctx.io.out(`${source.label}: ${h.guest.type} ${h.guest.paging}, ${formatBytes(h.guest.memPages * 4096)}, ${h.guest.vcpus} vCPUs, seed ${h.workload.seed}, ${r.summaries[0]?.policy} policy\n`);
    ctx.io.out(compareTable(trackers, r) + '\n');
    ctx.io.out('* marks the lowest value among completed runs, on rows where lower is better. Reproduce with --seed ' + h.workload.seed + '\n');
  }
  ctx.setExit(outcomeExit(r.summaries.map((s) => s.outcome)));
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
