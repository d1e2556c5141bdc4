import type { Command } from 'commander';
import { InvalidArgumentError } from 'commander';
import { DEFAULT_GUEST } from '../../model/guest-config.js';
import { DEFAULT_IMPORT_HZ, DEFAULT_IPS, type ImportOptions, type ImportResult } from '../../import/import-options.js';
import { importLackey } from '../../import/lackey-importer.js';
import { importRtdirty } from '../../import/rtdirty-importer.js';
import type { GuestType, PagingMode } from '../../model/paging.js';
import { formatBytes, formatCount, formatDurationNs, parseNumber, sizeInput } from '../../model/units.js';
import { humanDefault } from '../human-default.js';
import type { CliContext } from '../cli-io.js';
import { inputFile } from '../input-file.js';
import { fmtFixed, fmtRate } from '../format-number.js';
import { createShareProgress, withProgressAsync } from '../progress.js';
import { guestOption, pagingOption, positiveIntOption, positiveNumberOption, seedOption, sizeOption } from '../parse-options.js';
import { chooseSeed } from './record-command.js';

interface ImportCliOptions {
  out: string;
  seed?: number;
  mem: number;
  vcpus?: number;
  guest: GuestType;
  paging: PagingMode;
  ips: number;
  hz: number;
  skipBad?: boolean;
  json?: boolean;
}

const hzOption = (s: string): number => {
  const n = parseNumber(s);
  if (!(n >= 0)) throw new InvalidArgumentError(`expected a rate of 0 or more per second, got '${s}'`);
  return n;
};

function addImportOptions(cmd: Command, defaultVcpus: number): Command {
  return cmd
    .requiredOption('-o, --out <file>', 'workload trace to write (atomically: nothing is written if the import fails)')
    .option('--seed <n>', 'seed for the choices the capture leaves open (default: a fresh one, printed)', seedOption)
    .addOption(humanDefault('--mem <size>', 'guest memory (1GiB, 512MiB)', sizeOption, DEFAULT_GUEST.memBytes, sizeInput(DEFAULT_GUEST.memBytes)))
    .option('--vcpus <n>', `virtual CPUs (default ${defaultVcpus})`, positiveIntOption)
    .option('--guest <type>', 'pv (direct-mode page tables, mfns) or hvm (pfns)', guestOption, DEFAULT_GUEST.guest)
    .option('--paging <mode>', 'x86-64 (4 levels) or pae (3 levels)', pagingOption, DEFAULT_GUEST.paging)
    .addOption(humanDefault('--ips <n>', 'instructions per second of guest time, for captures timed in instructions', positiveNumberOption, DEFAULT_IPS, DEFAULT_IPS.toExponential().replace('e+', 'e')))
    .option('--hz <n>', 'guest timer interrupts per second on each vCPU (0: none)', hzOption, DEFAULT_IMPORT_HZ)
    .option('--skip-bad', 'count and skip malformed lines instead of stopping at the first')
    .option('--json', 'print the result as JSON');
}

export function registerImport(program: Command, ctx: CliContext): void {
  const { io } = ctx;
  const cmd = program.command('import').description('turn a real capture into a workload trace that any tracker and policy can run');
  const rtdirty = cmd
    .command('rtdirty')
    .description('import an rtdirty v1 capture (per-interval dirty pages of real processes; plain or gzip)')
    .argument('<file>', 'the capture (.trace, .trace.gz)');
  addImportOptions(rtdirty, 2).action((file: string, opts: ImportCliOptions) => runImport('rtdirty', file, opts, ctx));
  const lackey = cmd
    .command('lackey')
    .description("import valgrind --tool=lackey --trace-mem=yes output (one program's loads and stores; plain or gzip)")
    .argument('<file>', 'the lackey log');
  addImportOptions(lackey, 1).action((file: string, opts: ImportCliOptions) => runImport('lackey', file, opts, ctx));
  for (const c of [cmd, rtdirty, lackey]) c.exitOverride().configureOutput({ writeOut: io.out, writeErr: io.err });
}

async function runImport(format: 'rtdirty' | 'lackey', file: string, opts: ImportCliOptions, ctx: CliContext): Promise<void> {
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
    ips: opts.ips,
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
