import { type Command, InvalidArgumentError } from 'commander';
import { POLICY_NAMES } from '../../reducers/migration/migration-options.js';
import { parseReportWindow, type ReportWindow } from '../../report/report-window.js';
import type { CliContext } from '../cli-io.js';
import { DEFAULT_COMPARE_TARGET, DEFAULT_COMPARE_TRACKERS } from './compare-command.js';
import { addMigrationOptions } from './migration-cli-options.js';
import { addWorkloadOptions } from './record-command.js';
import { addTrackerOptions, type TrackerRunCliOptions } from './run-command.js';

export type ReportCliOptions = TrackerRunCliOptions & {
  out: string;
  compare?: string | boolean;
  trackers?: string;
  policies?: string;
  bandwidths?: string;
  workloads?: string;
  window: ReportWindow;
  windowText?: string;
  fleet?: string;
  sweep?: string;
};

function windowOption(s: string): ReportWindow {
  try {
    return parseReportWindow(s);
  } catch (e) {
    throw new InvalidArgumentError((e as Error).message);
  }
}

export function registerReport(program: Command, ctx: CliContext): void {
  const cmd = program
    .command('report')
    .description('write one self-contained HTML report (charts, summary, how to reproduce) of run traces, or of runs simulated now side by side (--compare)')
    .argument('[runs...]', 'run traces written by migsim run --record')
    .requiredOption('-o, --out <file.html>', 'HTML file to write (written atomically)')
    .option('--compare [trace|workload]', `simulate runs side by side on a trace or workload (bare: ${DEFAULT_COMPARE_TARGET}); the lists below say what varies`)
    .option('--trackers <list>', `with --compare: comma-separated trackers (default ${DEFAULT_COMPARE_TRACKERS.join(',')}, or one tracker, pml on HVM and shadow on PV, when another list varies)`)
    .option('--policies <list>', `with --compare: comma-separated policies (${POLICY_NAMES.join(', ')})`)
    .option('--bandwidths <list>', 'with --compare: comma-separated link bandwidths (1Gbit,10Gbit,25Gbit)')
    .option('--workloads <list>', 'with --compare: comma-separated workloads, each run with the same options')
    .option('--window <which>', 'what the timelines draw: migration (the enable to the resume, with a margin), all (the whole run), or T1..T2 (wall time, 2.7s..3.2s)', windowOption, { kind: 'migration' })
    .option('--sweep <dir>', 'report a sweep: its results directory (migsim sweep -o DIR)')
    .option('--fleet <dir>', 'a fleet run recorded by migsim fleet --record DIR: the Gantt of its migrations per host, link use and events')
    .option('--json', 'print what was written as JSON');
  addTrackerOptions(cmd);
  addMigrationOptions(cmd);
  addWorkloadOptions(cmd);
  cmd.addHelpText(
    'after',
    '\nRuns side by side share one set of guest events where they can (the same workload and seed); the summary table\'s columns are labelled by what differs.\n' +
      '\nExamples:\n  migsim run hot-set --tracker pml --record pml.mst && migsim report pml.mst -o pml.html\n' +
      '  migsim report --compare -o compare.html        (apache on HVM: shadow vs hap vs pml, xen policy)\n' +
      '  migsim report --compare --policies xen,qemu -o policies.html\n' +
      '  migsim report --compare hot-set --bandwidths 1Gbit,10Gbit,25Gbit --duration 2s --mem 256MiB -o links.html\n' +
      '  migsim report --compare --workloads apache,hot-set --trackers pml -o workloads.html\n' +
      '  migsim report pml.mst --window all -o whole-run.html',
  );
  cmd.action(async (files: string[], opts: ReportCliOptions) => (await import('../actions/report-action.js')).reportAction(ctx, files, opts));
}
