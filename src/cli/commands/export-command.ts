import type { Command } from 'commander';
import { formatBytes, formatCount, formatDurationNs } from '../../model/units.js';
import { DEFAULT_MAX_EXIT_SLICES_PER_VCPU, exportPerfetto } from '../../report/perfetto-export.js';
import type { CliContext } from '../cli-io.js';
import { UsageError } from '../cli-failure.js';
import { inputFile } from '../input-file.js';
import { durationOption, positiveIntOption } from '../parse-options.js';
import { createShareProgress, withProgress } from '../progress.js';

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
    .action((file: string, opts: { out: string; perfetto?: boolean; maxExitSlices?: number; counterBucket?: number; json?: boolean }) => {
      if (!opts.perfetto) throw new UsageError('choose an export format: --perfetto (Chrome trace event JSON, opens in ui.perfetto.dev)');
      const progress = createShareProgress(ctx, 'export', opts.json);
      const r = withProgress(progress, () =>
        exportPerfetto(inputFile(file), opts.out, {
          ...(opts.maxExitSlices !== undefined ? { maxExitSlicesPerVcpu: opts.maxExitSlices } : {}),
          ...(opts.counterBucket !== undefined ? { counterBucketNs: opts.counterBucket } : {}),
          onProgress: progress.update,
        }),
      );
      if (opts.json) {
        ctx.io.out(JSON.stringify({ file: opts.out, format: 'chrome-trace-event', ...r }, null, 2) + '\n');
        return;
      }
      const capped = r.exitSlices < r.exits ? ` (${formatCount(r.exitSlices)} as slices, all counted in the per-vCPU counters)` : '';
      ctx.io.out(
        `wrote ${opts.out} (${formatBytes(r.fileBytes)}): ${formatCount(r.traceEvents)} trace events, ${r.rounds} rounds, ${formatCount(r.exits)} exits${capped}, ${r.outcome === 'completed' ? `downtime ${formatDurationNs(r.downtimeNs)}` : `no stop-and-copy (${r.stopReason})`}\n` +
          '  open it at https://ui.perfetto.dev (Open trace file) or in chrome://tracing\n',
      );
    });
}
