import { formatBytes, formatCount, formatDurationNs } from '../../model/units.js';
import { exportPerfetto } from '../../report/perfetto-export.js';
import type { CliContext } from '../cli-io.js';
import { UsageError } from '../usage-error.js';
import { inputFile } from '../input-file.js';
import { createShareProgress, withProgress } from '../progress.js';

export interface ExportCliOptions {
  out: string;
  perfetto?: boolean;
  maxExitSlices?: number;
  counterBucket?: number;
  json?: boolean;
}

/** `migsim export RUN.mst --perfetto -o RUN.json`: loaded when the command runs. */
export function exportAction(ctx: CliContext, file: string, opts: ExportCliOptions): void {
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
}
