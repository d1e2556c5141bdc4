import Table from 'cli-table3';
import type { CompareResult } from '../../api/compare.js';
import { compareTrackersOnCores } from '../../api/compare-on-cores.js';
import { formatBytes, formatCount, formatDurationNs } from '../../model/units.js';
import type { CliContext } from '../cli-io.js';
import { outcomeExit } from '../outcome-exit.js';
import { fmtPercent } from '../format-number.js';
import { migrationJson } from '../format-migration.js';
import { createProgress, withProgressAsync } from '../progress.js';
import { wrapLines } from '../../util/wrap-lines.js';
import { parseTrackerList } from '../commands/compare-command.js';
import type { TrackerRunCliOptions } from '../commands/run-command.js';
import { trackerRunInputs } from './tracker-run-inputs.js';

/** `migsim compare [TARGET]`: loaded when the command runs. */
export async function compareAction(ctx: CliContext, target: string, opts: TrackerRunCliOptions & { trackers: string }): Promise<void> {
  const trackers = parseTrackerList(opts.trackers);
  const { source, runOptions } = await trackerRunInputs(ctx, target, opts);
  const progress = createProgress(ctx, `compare ${trackers.join(',')}`, trackers.length, { json: opts.json });
  let done = 0;
  const r = await withProgressAsync(progress, () => compareTrackersOnCores(source, trackers, runOptions, { onEach: () => progress.update(++done) }));
  if (opts.json) {
    ctx.io.out(JSON.stringify({ source: source.label, trackers, runs: r.summaries.map((s) => migrationJson(source, s)), figures: r.figures }, null, 2) + '\n');
  } else {
    const h = source.header;
    ctx.io.out(`${source.label}: ${h.guest.type} ${h.guest.paging}, ${formatBytes(h.guest.memPages * 4096)}, ${h.guest.vcpus} vCPUs, seed ${h.workload.seed}, ${r.summaries[0]?.policy} policy\n`);
    ctx.io.out(compareTable(trackers, r) + '\n');
    ctx.io.out('* marks the lowest value among completed runs, on rows where lower is better. Reproduce with --seed ' + h.workload.seed + '\n');
  }
  ctx.setExit(outcomeExit(r.summaries.map((s) => s.outcome)));
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
