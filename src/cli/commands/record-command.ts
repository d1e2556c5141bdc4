import { randomInt } from 'node:crypto';
import type { Command } from 'commander';
import { record, workloadHeader } from '../../api/record.js';
import { DEFAULT_GUEST, DEFAULT_DURATION_NS } from '../../model/guest-config.js';
import { COLUMN_ENCODINGS, type ColumnEncoding } from '../../trace/column-codec.js';
import { durationInput, formatBytes, formatCount, formatDurationNs, sizeInput } from '../../model/units.js';
import { humanDefault } from '../human-default.js';
import type { GuestType, PagingMode } from '../../model/paging.js';
import { findWorkload, WORKLOADS } from '../../workloads/registry.js';
import type { WorkloadDefinition } from '../../workloads/workload.js';
import type { CliContext } from '../cli-io.js';
import { UsageError } from '../cli-failure.js';
import { fmtFixed, fmtRate } from '../format-number.js';
import { createProgress, withProgress } from '../progress.js';
import { collectSetting, durationOption, guestOption, pagingOption, positiveIntOption, seedOption, sizeOption } from '../parse-options.js';

export interface GuestCliOptions {
  seed?: number;
  duration: number;
  mem: number;
  vcpus: number;
  guest: GuestType;
  paging: PagingMode;
  set?: Record<string, string>;
}

/** The options `record`, `run` and `compare` share for a workload. */
export function addWorkloadOptions(cmd: Command): Command {
  return cmd
    .option('--seed <n>', 'seed for every random choice (default: a fresh one, printed)', seedOption)
    .addOption(humanDefault('--duration <time>', 'guest time to run (10s, 250ms)', durationOption, DEFAULT_DURATION_NS, durationInput(DEFAULT_DURATION_NS)))
    .addOption(humanDefault('--mem <size>', 'guest memory (1GiB, 512MiB)', sizeOption, DEFAULT_GUEST.memBytes, sizeInput(DEFAULT_GUEST.memBytes)))
    .option('--vcpus <n>', 'virtual CPUs', positiveIntOption, DEFAULT_GUEST.vcpus)
    .option('--guest <type>', 'pv (direct-mode page tables, mfns) or hvm (pfns)', guestOption, DEFAULT_GUEST.guest)
    .option('--paging <mode>', 'x86-64 (4 levels) or pae (3 levels)', pagingOption, DEFAULT_GUEST.paging)
    .option('--set <key=value>', 'a workload parameter (repeatable; see --help of the workload)', collectSetting);
}

/** The seed a command uses: the one given, or a fresh one from the OS. */
export function chooseSeed(given: number | undefined): number {
  return given ?? randomInt(0, 2 ** 32);
}

function describeWorkloadParams(def: WorkloadDefinition): string {
  const lines = [`Workload '${def.name}': ${def.description}`, '', 'Parameters (--set key=value):'];
  const width = Math.max(...def.params.map((p) => p.name.length), 4);
  for (const p of def.params) {
    const choices = p.choices ? ` (${p.choices.join('|')})` : '';
    lines.push(`  ${p.name.padEnd(width)}  ${p.description}${choices}; default ${formatDefault(p.kind, p.default)}`);
  }
  if (def.params.length === 0) lines.push('  (none)');
  return lines.join('\n');
}

function formatDefault(kind: string, v: number | string): string {
  if (typeof v === 'string') return v;
  if (kind === 'size') return formatBytes(v);
  if (kind === 'duration') return formatDurationNs(v);
  return String(v);
}

function workloadListText(): string {
  return ['Workloads:', ...WORKLOADS.map((w) => `  ${w.name.padEnd(10)} ${w.description}`)].join('\n');
}

export function registerRecord(program: Command, ctx: CliContext): void {
  const { io, argv } = ctx;
  const cmd = program
    .command('record')
    .description('run a built-in workload and record its guest events to a trace')
    .argument('<workload>', 'workload name (see the list below)')
    .requiredOption('-o, --out <file>', 'trace file to write (written atomically)')
    .option('--encoding <enc>', `column encoding: ${COLUMN_ENCODINGS.join(', ')}`, 'compact')
    .option('--json', 'print the result as JSON');
  addWorkloadOptions(cmd);
  cmd.addHelpText('after', () => {
    // `migsim record apache --help`: show that workload's parameters.
    const named = argv.find((a) => WORKLOADS.some((w) => w.name === a));
    return '\n' + (named ? describeWorkloadParams(findWorkload(named)) : workloadListText() + "\n\nA workload's parameters: migsim record <workload> --help");
  });
  cmd.action((workload: string, opts: GuestCliOptions & { out: string; encoding: string; json?: boolean }) => {
    if (!(COLUMN_ENCODINGS as readonly string[]).includes(opts.encoding)) {
      throw new UsageError(`--encoding must be one of ${COLUMN_ENCODINGS.join(', ')}`);
    }
    const seed = chooseSeed(opts.seed);
    const request = {
      workload,
      seed,
      out: opts.out,
      durationNs: opts.duration,
      memBytes: opts.mem,
      vcpus: opts.vcpus,
      guest: opts.guest,
      paging: opts.paging,
      settings: opts.set ?? {},
      encoding: opts.encoding as ColumnEncoding,
    };
    workloadHeader(request); // checks the workload and parameters before anything is printed
    if (!opts.json) io.err(`seed ${seed}\n`);
    const started = process.hrtime.bigint();
    const progress = createProgress(ctx, `record ${workload}`, opts.duration, { json: opts.json, unit: formatDurationNs });
    const result = withProgress(progress, () => record(request, (_events, tNs) => progress.update(tNs)));
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    const events = result.footer.guestEvents;
    if (opts.json) {
      io.out(JSON.stringify({ file: opts.out, seed, events, fileBytes: result.fileBytes, bytesPerEvent: result.fileBytes / Math.max(events, 1), digest: result.footer.digest, workloadStats: result.footer.workloadStats }, null, 2) + '\n');
    } else {
      io.out(
        `recorded ${workload} (seed ${seed}): ${formatCount(events)} events over ${formatDurationNs(result.footer.lastNs)} of guest time\n` +
          `  ${opts.out}: ${formatBytes(result.fileBytes)}, ${fmtFixed(result.fileBytes / Math.max(events, 1), 2)} bytes/event, ${fmtRate(events / seconds)} events/s\n`,
      );
    }
  });
}
