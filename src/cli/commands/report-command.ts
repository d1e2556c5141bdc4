import type { Command } from 'commander';
import { formatBytes } from '../../model/units.js';
import { compareRunReports, runReportFromTrace } from '../../report/report-data.js';
import { REPORT_CHARTS, type ReportDocument, reportHtml } from '../../report/report-html.js';
import { compareCommandLine, runCommandLine, shellQuote } from '../../report/reproduce-command.js';
import type { CliContext } from '../cli-io.js';
import { outcomeExit } from '../outcome-exit.js';
import { UsageError } from '../cli-failure.js';
import { inputFile } from '../input-file.js';
import { createProgress, type Progress, withProgressAsync } from '../progress.js';
import { DEFAULT_COMPARE_TARGET, DEFAULT_COMPARE_TRACKERS, parseTrackerList } from './compare-command.js';
import { addMigrationOptions } from './migration-cli-options.js';
import { addWorkloadOptions } from './record-command.js';
import { addTrackerOptions, type TrackerRunCliOptions, trackerRunInputs } from './run-command.js';
import type { TrackerName } from '../../reducers/tracker.js';
import { writeFileAtomic } from '../../util/atomic-write.js';
import { checkResultsDir, tableFiles } from '../sweep/results-dir.js';
import { querySweep, runsSql } from '../sweep/duckdb-table.js';
import { sweepAxes, sweepReportHtml } from '../../report/sweep-report.js';
import type { Cell } from '../../sweep/run-row.js';

type ReportCliOptions = TrackerRunCliOptions & { out: string; compare?: string | boolean; trackers: string; sweep?: string };

export function registerReport(program: Command, ctx: CliContext): void {
  const cmd = program
    .command('report')
    .description('write one self-contained HTML report (charts, summary, how to reproduce) of run traces, or of a comparison of trackers run now')
    .argument('[runs...]', 'run traces written by migsim run --record')
    .requiredOption('-o, --out <file.html>', 'HTML file to write (written atomically)')
    .option('--compare [trace|workload]', `compare trackers on a trace or workload, as migsim compare does (bare: ${DEFAULT_COMPARE_TARGET})`)
    .option('--trackers <list>', 'with --compare: comma-separated trackers', DEFAULT_COMPARE_TRACKERS.join(','))
    .option('--sweep <dir>', 'report a sweep: its results directory (migsim sweep -o DIR)')
    .option('--json', 'print what was written as JSON');
  addTrackerOptions(cmd);
  addMigrationOptions(cmd);
  addWorkloadOptions(cmd);
  cmd.addHelpText(
    'after',
    '\nExamples:\n  migsim run hot-set --tracker pml --record pml.mst && migsim report pml.mst -o pml.html\n  migsim report --compare -o compare.html        (apache on HVM: shadow vs hap vs pml, xen policy)\n  migsim report --compare hot-set --duration 2s --mem 256MiB -o hs.html',
  );
  cmd.action(async (files: string[], opts: ReportCliOptions) => {
    if (opts.sweep !== undefined) {
      if (opts.compare !== undefined || files.length > 0) throw new UsageError('give --sweep alone: not with run traces or --compare');
      return sweepReport(ctx, opts.sweep, opts.out, Boolean(opts.json));
    }
    if (opts.compare !== undefined && files.length > 0) throw new UsageError(`give run traces or --compare, not both (got ${files.join(', ')} and --compare)`);
    if (opts.compare === undefined && files.length === 0) throw new UsageError('nothing to report: give run traces (written by migsim run --record) or --compare [trace|workload]');
    for (const f of files) inputFile(f);
    // One bar for the whole command: each run (simulated or read) is a
    // step, and so is each chart.
    const trackers = opts.compare !== undefined ? parseTrackerList(opts.trackers) : [];
    const steps = (opts.compare !== undefined ? trackers.length : files.length) + REPORT_CHARTS.length;
    const progress = createProgress(ctx, 'report', steps, { json: opts.json, unit: (n) => n.toFixed(1) });
    const { doc, html } = await withProgressAsync(progress, async () => {
      const built = opts.compare !== undefined ? compareDocument(ctx, opts, trackers, progress) : runsDocument(files, opts, progress);
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
  });
}

/** The sweep's report: its rows read through DuckDB, charts against each numeric axis, the runs' table. */
async function sweepReport(ctx: CliContext, dir: string, out: string, json: boolean): Promise<void> {
  checkResultsDir(dir);
  const files = tableFiles(dir);
  if (!files.length) throw new UsageError(`${dir}: no shard tables (runs-K-of-N.*) yet: has any shard finished?`);
  const answer = await querySweep({ runs: runsSql(files) }, 'SELECT * FROM runs');
  const rows = answer.rows.map((r) => Object.fromEntries(answer.columns.map((c, i) => [c, r[i] as Cell])));
  const html = await sweepReportHtml(`migsim sweep ${dir}`, rows, ['migsim', 'report', '--sweep', dir, '-o', out].map(shellQuote).join(' '));
  writeFileAtomic(out, html);
  const bytes = Buffer.byteLength(html);
  ctx.io.out(json ? JSON.stringify({ file: out, fileBytes: bytes, runs: rows.length, axes: sweepAxes(rows) }, null, 2) + '\n' : `wrote ${out} (${formatBytes(bytes)}): ${rows.length} runs of ${dir}; open it in a browser (no network needed)\n`);
}

function compareDocument(ctx: CliContext, opts: ReportCliOptions, trackers: readonly TrackerName[], progress: Progress): ReportDocument {
  const target = typeof opts.compare === 'string' ? opts.compare : DEFAULT_COMPARE_TARGET;
  const { source, runOptions } = trackerRunInputs(ctx, target, opts);
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
