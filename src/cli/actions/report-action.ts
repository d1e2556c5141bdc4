import { checkResultsDir, tableFiles } from '../sweep/results-dir.js';
import { querySweep, runsSql } from '../sweep/duckdb-table.js';
import { sweepAxes, sweepReportHtml } from '../../report/sweep-report.js';
import type { Cell } from '../../sweep/run-row.js';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { FLEET_FILES, isFleetRecord } from '../../fleet/fleet-record-dir.js';
import type { FleetResult } from '../../fleet/run-fleet.js';
import { parseBandwidthBytesPerSec, formatBytes } from '../../model/units.js';
import { POLICY_NAMES, type PolicyName } from '../../reducers/migration/migration-options.js';
import { labelled, runFromTrace, runReports, type RunVariant } from '../../report/report-data.js';
import { REPORT_CHARTS, type ReportDocument, reportHtml } from '../../report/report-html.js';
import { compareCommandLine, runCommandLine, shellQuote } from '../../report/reproduce-command.js';
import type { CliContext } from '../cli-io.js';
import { outcomeExit } from '../outcome-exit.js';
import { UsageError } from '../usage-error.js';
import { inputFile } from '../input-file.js';
import { createProgress, type Progress, withProgressAsync } from '../progress.js';
import { DEFAULT_COMPARE_TARGET, DEFAULT_COMPARE_TRACKERS, parseTrackerList } from '../commands/compare-command.js';
import type { ReportCliOptions } from '../commands/report-command.js';
import type { TrackerName } from '../../reducers/tracker.js';
import { writeFileAtomic } from '../../util/atomic-write.js';
import { trackerRunInputs } from './tracker-run-inputs.js';

function listOf(flag: string, text: string): string[] {
  const items = text.split(',').map((t) => t.trim());
  if (items.some((t) => t === '')) throw new UsageError(`${flag} '${text}' has an empty item: give a comma-separated list`);
  return items;
}

/** `migsim report RUNS... | --compare [TARGET] -o REPORT.html`: loaded when the command runs (vega with it). */
export async function reportAction(ctx: CliContext, files: string[], opts: ReportCliOptions): Promise<void> {
  if (opts.fleet !== undefined) return fleetReport(ctx, files, opts, opts.fleet);
  if (opts.sweep !== undefined) {
    if (opts.compare !== undefined || files.length > 0) throw new UsageError('give --sweep alone: not with run traces or --compare');
    return sweepReport(ctx, opts.sweep, opts.out, Boolean(opts.json));
  }
  const axisFlags = (['trackers', 'policies', 'bandwidths', 'workloads'] as const).filter((k) => opts[k] !== undefined);
  if (opts.compare !== undefined && files.length > 0) throw new UsageError(`give run traces or --compare, not both (got ${files.join(', ')} and --compare)`);
  if (opts.compare === undefined && axisFlags.length) throw new UsageError(`--${axisFlags[0]} needs --compare (it lists what the runs simulated now vary in)`);
  if (opts.compare === undefined && files.length === 0) throw new UsageError('nothing to report: give run traces (written by migsim run --record) or --compare [trace|workload]');
  if (typeof opts.compare === 'string' && opts.workloads !== undefined) throw new UsageError(`give the guest with --compare ${opts.compare} or with --workloads, not both`);
  for (const f of files) inputFile(f);
  const variants = opts.compare !== undefined ? await compareVariants(ctx, opts) : undefined;
  // One bar for the whole command: each run (simulated or read) is a
  // step, and so is each chart.
  const steps = (variants ? variants.list.length : files.length) + REPORT_CHARTS.length;
  const progress = createProgress(ctx, 'report', steps, { json: opts.json, unit: (n) => n.toFixed(1) });
  const { doc, html } = await withProgressAsync(progress, async () => {
    const built = variants ? compareDocument(opts, variants, progress) : runsDocument(files, opts, progress);
    return { doc: built, html: await reportHtml(built, (done) => progress.update(built.runs.length + done)) };
  });
  writeFileAtomic(opts.out, html);
  const bytes = Buffer.byteLength(html);
  if (opts.json) {
    ctx.io.out(JSON.stringify({ file: opts.out, fileBytes: bytes, charts: REPORT_CHARTS.map((c) => c.id), runs: doc.runs.map((r) => ({ label: r.label, tracker: r.summary.tracker, policy: r.summary.policy, outcome: r.summary.outcome, downtimeNs: r.summary.downtimeNs })) }, null, 2) + '\n');
  } else {
    ctx.io.out(`wrote ${opts.out} (${formatBytes(bytes)}): ${doc.runs.length} run${doc.runs.length === 1 ? '' : 's'} (${doc.runs.map((r) => r.label).join('; ')}), ${REPORT_CHARTS.length} charts; open it in a browser (no network needed)\n`);
  }
  // A trace recorded before 'failed' existed says 'completed' with lost pages.
  ctx.setExit(outcomeExit(doc.runs.map((r) => (r.summary.lostPages + r.summary.lostPtes > 0 ? 'failed' : r.summary.outcome))));
}

interface CompareVariants {
  readonly list: RunVariant[];
  readonly trackers: TrackerName[];
  readonly workloads?: string[];
  readonly policies?: PolicyName[];
  readonly bandwidths?: number[];
}

/**
 * The runs `--compare` asks for: every combination of the lists given
 * (workloads, then policies, then bandwidths, then trackers), each list
 * defaulting to the one value the other options give. Runs of one workload
 * share its guest source, so they migrate the same guest events.
 */
async function compareVariants(ctx: CliContext, opts: ReportCliOptions): Promise<CompareVariants> {
  const workloads = opts.workloads !== undefined ? listOf('--workloads', opts.workloads) : undefined;
  const policies = opts.policies !== undefined ? listOf('--policies', opts.policies).map((p) => {
    if (!(POLICY_NAMES as readonly string[]).includes(p)) throw new UsageError(`unknown policy '${p}' in --policies (known: ${POLICY_NAMES.join(', ')})`);
    return p as PolicyName;
  }) : undefined;
  const bandwidths = opts.bandwidths !== undefined ? listOf('--bandwidths', opts.bandwidths).map((b) => {
    let v: number;
    try {
      v = parseBandwidthBytesPerSec(b);
    } catch (e) {
      throw new UsageError(`--bandwidths: ${(e as Error).message}`);
    }
    if (v <= 0) throw new UsageError(`--bandwidths: '${b}' must be above zero`);
    return v;
  }) : undefined;
  const targets = workloads ?? [typeof opts.compare === 'string' ? opts.compare : DEFAULT_COMPARE_TARGET];
  // One seed for every workload: the first input chooses it (and prints it) when none was given.
  const firstInput = await trackerRunInputs(ctx, targets[0]!, opts);
  const seed = firstInput.source.header.workload.seed;
  const inputs = [firstInput, ...(await Promise.all(targets.slice(1).map((t) => trackerRunInputs(ctx, t, { ...opts, seed, json: true }))))];
  const otherAxis = workloads !== undefined || policies !== undefined || bandwidths !== undefined;
  const trackers = opts.trackers !== undefined ? parseTrackerList(opts.trackers) : otherAxis ? [inputs[0]!.source.header.guest.type === 'pv' ? 'shadow' : 'pml'] as TrackerName[] : [...DEFAULT_COMPARE_TRACKERS];
  const list: RunVariant[] = [];
  for (const { source, runOptions } of inputs) {
    for (const policy of policies ?? [runOptions.migration?.policy]) {
      for (const bw of bandwidths ?? [runOptions.migration?.bandwidthBytesPerSec]) {
        for (const tracker of trackers) {
          const migration = { ...runOptions.migration, ...(policy ? { policy } : {}), ...(bw ? { bandwidthBytesPerSec: bw } : {}) };
          list.push({ source, options: { ...runOptions, tracker, migration } });
        }
      }
    }
  }
  return { list, trackers, ...(workloads ? { workloads } : {}), ...(policies ? { policies } : {}), ...(bandwidths ? { bandwidths } : {}) };
}

function windowFlag(opts: ReportCliOptions): string | undefined {
  const w = opts.window;
  if (w.kind === 'migration') return undefined;
  return w.kind === 'all' ? 'all' : `${w.fromNs}ns..${w.toNs}ns`;
}

function compareDocument(opts: ReportCliOptions, v: CompareVariants, progress: Progress): ReportDocument {
  const runs = runReports(v.list, opts.window, (runsDone) => progress.update(runsDone));
  const first = runs[0]!;
  const windowArg = windowFlag(opts);
  const axes = { ...(v.workloads ? { workloads: v.workloads } : {}), ...(v.policies ? { policies: v.policies } : {}), ...(v.bandwidths ? { bandwidths: v.bandwidths } : {}), ...(windowArg ? { window: windowArg } : {}) };
  const onlyTrackers = !v.workloads && !v.policies && !v.bandwidths;
  return {
    mode: 'compare',
    window: opts.window,
    runs,
    commands: [
      { what: 'This report:', line: compareCommandLine(first.header, first.spec, v.trackers, opts.out, axes) },
      ...(onlyTrackers ? [{ what: 'The same comparison as a table (add --json for scripts):', line: compareCommandLine(first.header, first.spec, v.trackers) }] : []),
      ...runs.map((r) => ({ what: `One run as a run trace (${r.label}):`, line: runCommandLine(r.header, r.spec, `${fileStem(r.label)}.mst`) })),
    ],
  };
}

/** A label as a file name: run-pml, run-qemu-10-gbit-s. */
function fileStem(label: string): string {
  return `run-${label.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-|-$/g, '')}`;
}

function runsDocument(files: readonly string[], opts: ReportCliOptions, progress: Progress): ReportDocument {
  const runs = labelled(files.map((f, i) => runFromTrace(f, opts.window, (fraction) => progress.update(i + fraction))));
  const windowArg = windowFlag(opts);
  return {
    mode: 'runs',
    window: opts.window,
    runs,
    commands: [
      { what: 'This report:', line: ['migsim', 'report', ...files, ...(windowArg ? ['--window', windowArg] : []), '-o', opts.out].map(shellQuote).join(' ') },
      ...runs.map((r) => ({ what: `Record ${r.label} again (same events, same summary):`, line: runCommandLine(r.header, r.spec, r.file ?? `${fileStem(r.label)}.mst`) })),
    ],
  };
}

/** `report --fleet DIR`: the Gantt of a recorded fleet run's migrations per host, and link use. */
async function fleetReport(ctx: CliContext, files: string[], opts: ReportCliOptions, dir: string): Promise<void> {
  if (files.length > 0 || opts.compare !== undefined) throw new UsageError('give --fleet DIR alone, without run traces or --compare');
  if (!isFleetRecord(dir)) throw new UsageError(`${dir}: not a directory written by migsim fleet --record (no fleet.json in it)`);
  const result = (JSON.parse(readFileSync(join(dir, FLEET_FILES.result), 'utf8')) as { result: FleetResult }).result;
  const { fleetReportHtml } = await import('../../report/fleet-report.js');
  const html = await fleetReportHtml(result, `migsim fleet: ${dir}`);
  writeFileAtomic(opts.out, html);
  const bytes = Buffer.byteLength(html);
  const charts = ['gantt', ...(result.vms.some((v) => (v.readings ?? []).length > 0) ? ['remaining'] : []), 'links'];
  if (opts.json) ctx.io.out(JSON.stringify({ file: opts.out, fileBytes: bytes, charts, vms: result.vms.map((v) => ({ vm: v.vm, outcome: v.outcome })) }, null, 2) + '\n');
  else ctx.io.out(`wrote ${opts.out} (${formatBytes(bytes)}): ${result.vms.length} migrations, ${charts.length} charts (${charts.join(', ')}); open it in a browser (no network needed)\n`);
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
