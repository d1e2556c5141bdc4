import Table from 'cli-table3';
import type { Command } from 'commander';
import { compareTrackers, type CompareResult } from '../../api/compare.js';
import { formatBytes, formatCount, formatDurationNs } from '../../model/units.js';
import { TRACKER_NAMES, type TrackerName } from '../../reducers/tracker.js';
import type { CliContext } from '../cli-io.js';
import { outcomeExit } from '../outcome-exit.js';
import { UsageError } from '../cli-failure.js';
import { fmtPercent } from '../format-number.js';
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
      ctx.io.out(JSON.stringify({ source: source.label, trackers, runs: r.summaries.map((s) => migrationJson(source, s)), figures: r.figures }, null, 2) + '\n');
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

function compareTable(trackers: readonly string[], r: CompareResult): string {
  const table = new Table({ head: ['', ...trackers], style: { head: [], border: [] } });
  for (const f of r.figures) {
    table.push([f.name, ...f.values.map((v, i) => formatFigure(f.unit, v) + (i === f.best ? ' *' : ''))]);
  }
  table.push(['outcome', ...r.summaries.map((s) => s.outcome)]);
  table.push(['stop rule', ...r.summaries.map((s) => wrapLines(s.stopReason, 28).join('\n'))]);
  return table.toString();
}

function formatFigure(unit: string, v: number): string {
  switch (unit) {
    case 'ns':
      return formatDurationNs(v);
    case 'bytes':
      return formatBytes(v);
    case 'ratio':
      return fmtPercent(v);
    default:
      return formatCount(v);
  }
}
