import { type ImportOptions, type ImportResult } from '../../import/import-options.js';
import { importLackey } from '../../import/lackey-importer.js';
import { importRtdirty } from '../../import/rtdirty-importer.js';
import { formatBytes, formatCount, formatDurationNs } from '../../model/units.js';
import type { CliContext } from '../cli-io.js';
import { inputFile } from '../input-file.js';
import { fmtFixed, fmtRate } from '../format-number.js';
import { createShareProgress, withProgressAsync } from '../progress.js';
import { chooseSeed } from '../choose-seed.js';
import type { ImportCliOptions } from '../commands/import-command.js';

/** `migsim import rtdirty|lackey FILE -o OUT`: loaded when the command runs. */
export async function runImport(format: 'rtdirty' | 'lackey', file: string, opts: ImportCliOptions, ctx: CliContext): Promise<void> {
  inputFile(file, 'a capture');
  const seed = chooseSeed(opts.seed);
  const progress = createShareProgress(ctx, `import ${format}`, opts.json);
  const request: ImportOptions = {
    file,
    out: opts.out,
    seed,
    memBytes: opts.mem,
    guest: opts.guest,
    paging: opts.paging,
    ips: opts.ips ?? opts.instrPerSec,
    hz: opts.hz,
    skipBad: opts.skipBad ?? false,
    ...(opts.vcpus !== undefined ? { vcpus: opts.vcpus } : {}),
    onProgress: progress.update,
  };
  if (!opts.json) ctx.io.err(`seed ${seed}\n`);
  const started = process.hrtime.bigint();
  const result = await withProgressAsync(progress, () => (format === 'rtdirty' ? importRtdirty(request) : importLackey(request)));
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  const ws = result.footer.workloadStats;
  const inputBytes = Number(result.header.source?.['bytes'] ?? 0);
  if (opts.json) {
    ctx.io.out(JSON.stringify(importJson(file, opts.out, seed, result), null, 2) + '\n');
    return;
  }
  for (const m of result.firstSkipped) ctx.io.err(`skipped ${m}\n`);
  if (result.skippedLines > 0) ctx.io.err(`skipped ${formatCount(result.skippedLines)} malformed line${result.skippedLines === 1 ? '' : 's'}\n`);
  const what =
    format === 'rtdirty'
      ? `${formatCount(ws['captureProcesses'] ?? 0)} processes, ${formatCount(ws['intervals'] ?? 0)} intervals, ${formatCount(ws['pagesWritten'] ?? 0)} pages written`
      : `${formatCount(ws['instructions'] ?? 0)} instructions, ${formatCount((ws['loads'] ?? 0) + (ws['stores'] ?? 0) + (ws['modifies'] ?? 0))} accesses, ${formatCount(ws['pagesWritten'] ?? 0)} pages written`;
  ctx.io.out(
    `imported ${format} ${file} (seed ${seed}): ${what}, ${formatDurationNs(result.header.workload.durationNs)} of guest time\n` +
      `  ${opts.out}: ${formatCount(result.footer.guestEvents)} events, ${formatBytes(result.fileBytes)}, ${fmtFixed(result.fileBytes / Math.max(result.footer.guestEvents, 1), 2)} bytes/event; read ${formatBytes(inputBytes)} at ${fmtRate(inputBytes / seconds)}B/s\n`,
  );
}

function importJson(file: string, out: string, seed: number, r: ImportResult): Record<string, unknown> {
  return {
    file,
    out,
    seed,
    events: r.footer.guestEvents,
    fileBytes: r.fileBytes,
    durationNs: r.header.workload.durationNs,
    digest: r.footer.digest,
    skippedLines: r.skippedLines,
    source: r.header.source,
    workloadStats: r.footer.workloadStats,
  };
}
