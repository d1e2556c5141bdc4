import type { Command } from 'commander';
import type { CliContext } from '../cli-io.js';

export function registerReplay(program: Command, ctx: CliContext): void {
  program
    .command('replay')
    .description('re-derive a trace (a workload trace from its header; a run trace from its own guest events) and check every event, digest and summary')
    .argument('<file>', 'trace file (a fleet VM\'s vm-NAME.mst replays alone), or a directory written by migsim fleet --record (each VM alone, then the scenario\'s stream)')
    .option('--verify', 'compare with the recorded events (the default and, for now, the only mode)')
    .option('--source <capture>', 'for an imported trace: the capture to import again and compare with')
    .option('--json', 'print the result as JSON')
    .action(async (file: string, opts: { json?: boolean; source?: string }) => (await import('../actions/replay-action.js')).replayAction(ctx, file, opts));
}
