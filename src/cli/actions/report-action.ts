import { formatBytes } from '../../model/units.js';
import { compareRunReports, runReportFromTrace } from '../../report/report-data.js';
import { REPORT_CHARTS, type ReportDocument, reportHtml } from '../../report/report-html.js';
import { compareCommandLine, runCommandLine, shellQuote } from '../../report/reproduce-command.js';
import type { CliContext } from '../cli-io.js';
import { outcomeExit } from '../outcome-exit.js';
import { UsageError } from '../usage-error.js';
import { inputFile } from '../input-file.js';
import { createProgress, type Progress, withProgressAsync } from '../progress.js';
import { DEFAULT_COMPARE_TARGET, parseTrackerList } from '../commands/compare-command.js';
import type { ReportCliOptions } from '../commands/report-command.js';
import type { TrackerName } from '../../reducers/tracker.js';
import { writeFileAtomic } from '../../util/atomic-write.js';
import { trackerRunInputs } from './tracker-run-inputs.js';

/** `migsim report RUNS... | --compare [TARGET] -o REPORT.html`: loaded when the command runs (vega with it). */
export async function reportAction(ctx: CliContext, files: string[], opts: ReportCliOptions): Promise<void> {
  if (opts.compare !== undefined && files.length > 0) throw new UsageError(`give run traces or --compare, not both (got ${files.join(', ')} and --compare)`);
  if (opts.compare === undefined && files.length === 0) throw new UsageError('nothing to report: give run traces (written by migsim run --record) or --compare [trace|workload]');
  for (const f of files) inputFile(f);
  // One bar for the whole command: each run (simulated or read) is a
  // step, and so is each chart.
  const trackers = opts.compare !== undefined ? parseTrackerList(opts.trackers) : [];
  const steps = (opts.compare !== undefined ? trackers.length : files.length) + REPORT_CHARTS.length;
  const progress = createProgress(ctx, 'report', steps, { json: opts.json, unit: (n) => n.toFixed(1) });
  const { doc, html } = await withProgressAsync(progress, async () => {
    const built = opts.compare !== undefined ? await compareDocument(ctx, opts, trackers, progress) : runsDocument(files, opts, progress);
    return { doc: built, html: await reportHtml(built, (done) => progress.update(built.runs.length + done)) };
  });
  writeFileAtomic(opts.out, html);
  const bytes = Buffer.byteLength(html);
  if (opts.json) {
    ctx.io.out(JSON.stringify({ file: opts.out, fileBytes: bytes, charts: REPORT_CHARTS.map((c) => c.id), runs: doc.runs.map((r) => ({ label: r.label, tracker: r.summary.tracker, outcome: r.summary.outcome, downtimeNs: r.summary.downtimeNs })) }, null, 2) + '\n');
  } else {
    ctx.io.out(`wrote ${opts.out} (${formatBytes(bytes)}): ${doc.runs.length} run${doc.runs.length === 1 ? '' : 's'}, ${REPORT_CHARTS.length} charts; open it in a browser (no network needed)\n`);
  }
  // A trace recorded before 'failed' existed says 'completed' with lost pages.
  ctx.setExit(outcomeExit(doc.runs.map((r) => (r.summary.lostPages + r.summary.lostPtes > 0 ? 'failed' : r.summary.outcome))));
}

async function compareDocument(ctx: CliContext, opts: ReportCliOptions, trackers: readonly TrackerName[], progress: Progress): Promise<ReportDocument> {
  const target = typeof opts.compare === 'string' ? opts.compare : DEFAULT_COMPARE_TARGET;
  const { source, runOptions } = await trackerRunInputs(ctx, target, opts);
  const runs = compareRunReports(source, trackers, runOptions, (runsDone) => progress.update(runsDone));
  const first = runs[0]!;
  return {
    mode: 'compare',
    runs,
    commands: [
      { what: 'This report:', line: compareCommandLine(first.header, first.spec, trackers, opts.out) },
      { what: 'The same comparison as a table (add --json for scripts):', line: compareCommandLine(first.header, first.spec, trackers) },
      ...runs.map((r) => ({ what: `One run as a run trace (${r.label}):`, line: runCommandLine(r.header, r.spec, `${r.label}.mst`) })),
    ],
  };
}

function runsDocument(files: readonly string[], opts: ReportCliOptions, progress: Progress): ReportDocument {
  const runs = files.map((f, i) => runReportFromTrace(f, (fraction) => progress.update(i + fraction)));
  return {
    mode: 'runs',
    runs,
    commands: [
      { what: 'This report:', line: ['migsim', 'report', ...files, '-o', opts.out].map(shellQuote).join(' ') },
      ...runs.map((r) => ({ what: `Record ${r.label} again (same events, same summary):`, line: runCommandLine(r.header, r.spec, r.label) })),
    ],
  };
}
