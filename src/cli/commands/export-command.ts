import type { Command } from 'commander';
import { formatCount } from '../../model/units.js';
import { DEFAULT_MAX_EXIT_SLICES_PER_VCPU } from '../../report/perfetto-defaults.js';
import type { CliContext } from '../cli-io.js';
import { durationOption, positiveIntOption } from '../parse-options.js';
import type { ExportCliOptions } from '../actions/export-action.js';

export function registerExport(program: Command, ctx: CliContext): void {
  program
    .command('export')
    .description('export a run trace as a timeline (--perfetto: Chrome trace event JSON for ui.perfetto.dev and chrome://tracing)')
    .argument('<run.mst>', 'a run trace written by migsim run --record')
    .requiredOption('-o, --out <file.json>', 'file to write (written atomically)')
    .option('--perfetto', 'Chrome trace event format: phases, rounds, per-vCPU exits and stalls, counters')
    .option('--max-exit-slices <n>', `exits drawn as slices per vCPU; the rest are counted in counters (default ${formatCount(DEFAULT_MAX_EXIT_SLICES_PER_VCPU)})`, positiveIntOption)
    .option('--counter-bucket <time>', 'width of the per-vCPU exit counters (default 1ms, wider for long runs)', durationOption)
    .option('--json', 'print what was written as JSON')
    .action(async (file: string, opts: ExportCliOptions) => (await import('../actions/export-action.js')).exportAction(ctx, file, opts));
}
