import type { Command } from 'commander';
import type { CliContext } from '../cli-io.js';
import { DEFAULT_COMPARE_TARGET, DEFAULT_COMPARE_TRACKERS } from './compare-command.js';
import { addMigrationOptions } from './migration-cli-options.js';
import { addWorkloadOptions } from './record-command.js';
import { addTrackerOptions, type TrackerRunCliOptions } from './run-command.js';

export type ReportCliOptions = TrackerRunCliOptions & { out: string; compare?: string | boolean; trackers: string };

export function registerReport(program: Command, ctx: CliContext): void {
  const cmd = program
    .command('report')
    .description('write one self-contained HTML report (charts, summary, how to reproduce) of run traces, or of a comparison of trackers run now')
    .argument('[runs...]', 'run traces written by migsim run --record')
    .requiredOption('-o, --out <file.html>', 'HTML file to write (written atomically)')
    .option('--compare [trace|workload]', `compare trackers on a trace or workload, as migsim compare does (bare: ${DEFAULT_COMPARE_TARGET})`)
    .option('--trackers <list>', 'with --compare: comma-separated trackers', DEFAULT_COMPARE_TRACKERS.join(','))
    .option('--json', 'print what was written as JSON');
  addTrackerOptions(cmd);
  addMigrationOptions(cmd);
  addWorkloadOptions(cmd);
  cmd.addHelpText(
    'after',
    '\nExamples:\n  migsim run hot-set --tracker pml --record pml.mst && migsim report pml.mst -o pml.html\n  migsim report --compare -o compare.html        (apache on HVM: shadow vs hap vs pml, xen policy)\n  migsim report --compare hot-set --duration 2s --mem 256MiB -o hs.html',
  );
  cmd.action(async (files: string[], opts: ReportCliOptions) => (await import('../actions/report-action.js')).reportAction(ctx, files, opts));
}
