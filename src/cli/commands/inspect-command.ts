import type { Command } from 'commander';
import type { CliContext } from '../cli-io.js';

export function registerInspect(program: Command, ctx: CliContext): void {
  program
    .command('inspect')
    .description('show what a trace holds: header, events by kind, time span, pages, size')
    .argument('<file>', 'trace file')
    .option('--json', 'print the report as JSON')
    .action(async (file: string, opts: { json?: boolean }) => (await import('../actions/inspect-action.js')).inspectAction(ctx, file, opts));
}
