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
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { FLEET_FILES, isFleetRecord } from '../../fleet/fleet-record-dir.js';
import type { FleetResult } from '../../fleet/run-fleet.js';

type ReportCliOptions = TrackerRunCliOptions & { out: string; compare?: string | boolean; trackers: string };

export function registerReport(program: Command, ctx: CliContext): void {
  const cmd = program
    .command('report')
    .description('write one self-contained HTML report (charts, summary, how to reproduce) of run traces, or of a comparison of trackers run now')
    .argument('[runs...]', 'run traces written by migsim run --record')
    .requiredOption('-o, --out <file.html>', 'HTML file to write (written atomically)')
    .option('--compare [trace|workload]', `compare trackers on a trace or workload, as migsim compare does (bare: ${DEFAULT_COMPARE_TARGET})`)
    .option('--trackers <list>', 'with --compare: comma-separated trackers', DEFAULT_COMPARE_TRACKERS.join(','))
    .option('--fleet <dir>', 'a fleet run recorded by migsim fleet --record DIR: the Gantt of its migrations per host, link use and events')
    .option('--json', 'print what was written as JSON');
  addTrackerOptions(cmd);
  addMigrationOptions(cmd);
  addWorkloadOptions(cmd);
  cmd.addHelpText(
    'after',
    '\nExamples:\n  migsim run hot-set --tracker pml --record pml.mst && migsim report pml.mst -o pml.html\n  migsim report --compare -o compare.html        (apache on HVM: shadow vs hap vs pml, xen policy)\n  migsim report --compare hot-set --duration 2s --mem 256MiB -o hs.html',
  );
  cmd.action(async (files: string[], opts: ReportCliOptions & { fleet?: string }) => {
    if (opts.fleet !== undefined) {
      if (files.length > 0 || opts.compare !== undefined) throw new UsageError('give --fleet DIR alone, without run traces or --compare');
      if (!isFleetRecord(opts.fleet)) throw new UsageError(`${opts.fleet}: not a directory written by migsim fleet --record (no fleet.json in it)`);
      const result = (JSON.parse(readFileSync(join(opts.fleet, FLEET_FILES.result), 'utf8')) as { result: FleetResult }).result;
      const { fleetReportHtml } = await import('../../report/fleet-report.js');
      const html = await fleetReportHtml(result, `migsim fleet: ${opts.fleet}`);
      writeFileAtomic(opts.out, html);
      const bytes = Buffer.byteLength(html);
      if (opts.json) ctx.io.out(JSON.stringify({ file: opts.out, fileBytes: bytes, charts: ['gantt', 'links'], vms: result.vms.map((v) => ({ vm: v.vm, outcome: v.outcome })) }, null, 2) + '\n');
      else ctx.io.out(`wrote ${opts.out} (${formatBytes(bytes)}): ${result.vms.length} migrations, 2 charts; open it in a browser (no network needed)\n`);
      return;
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
