import type { Command } from 'commander';
import { type CliContext, EXIT_CODES_HELP } from '../cli-io.js';

const DEFAULT_GOLDEN_DIR = 'traces/golden';

export function registerGolden(program: Command, ctx: CliContext): void {
  const golden = program.command('golden').description('golden run traces: regression tests with readable expected summaries');
  golden
    .command('check')
    .description('replay every golden trace and fail on any difference, showing it')
    .argument('[dir]', 'directory of *.mst run traces and their *.summary.txt', DEFAULT_GOLDEN_DIR)
    .option('--json', 'print the outcome of each trace as JSON')
    .action(async (dir: string, opts: { json?: boolean }) => (await import('../actions/golden-action.js')).goldenCheckAction(ctx, dir, opts));
  golden
    .command('update')
    .description('re-derive every golden trace and its summary with this version, printing what changed')
    .argument('[dir]', 'directory of *.mst run traces', DEFAULT_GOLDEN_DIR)
    .option('--json', 'print what changed in each trace as JSON')
    .action(async (dir: string, opts: { json?: boolean }) => (await import('../actions/golden-action.js')).goldenUpdateAction(ctx, dir, opts));
  for (const c of golden.commands) c.exitOverride().configureOutput({ writeOut: ctx.io.out, writeErr: ctx.io.err }).addHelpText('after', EXIT_CODES_HELP);
}
