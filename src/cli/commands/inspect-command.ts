import type { Command } from 'commander';
import type { CliContext } from '../cli-io.js';

export function registerInspect(program: Command, ctx: CliContext): void {
  program
    .command('inspect')
    .description('show what a trace holds: header, events by kind, time span, pages, size')
    .argument('<file>', 'trace file')
    .option('--mmu', "replay the guest's page-table writes through the MMU: page-table pages per level, leaf A/D/RW shares")
    .option('--json', 'print the report as JSON')
    .action(async (file: string, opts: { json?: boolean; mmu?: boolean }) => (await import('../actions/inspect-action.js')).inspectAction(ctx, file, opts));
}
