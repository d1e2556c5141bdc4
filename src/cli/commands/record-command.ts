import type { Command } from 'commander';
import { DEFAULT_GUEST, DEFAULT_DURATION_NS } from '../../model/guest-config.js';
import { COLUMN_ENCODINGS } from '../../trace/column-encoding.js';
import { durationInput, formatBytes, formatDurationNs, sizeInput } from '../../model/units.js';
import { humanDefault } from '../human-default.js';
import type { GuestType, PagingMode } from '../../model/paging.js';
import type { WorkloadDefinition } from '../../workloads/workload.js';
import type { CliContext } from '../cli-io.js';
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

function workloadListText(workloads: readonly WorkloadDefinition[]): string {
  return ['Workloads:', ...workloads.map((w) => `  ${w.name.padEnd(10)} ${w.description}`)].join('\n');
}

/**
 * `workloads` is the registry, which `record --help` lists; main loads it
 * only when the command line names `record` (the rest of the CLI's help
 * needs none of the workloads' code).
 */
export function registerRecord(program: Command, ctx: CliContext, workloads: readonly WorkloadDefinition[] = []): void {
  const { argv } = ctx;
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
    const name = argv.find((a) => workloads.some((w) => w.name === a));
    const named = workloads.find((w) => w.name === name);
    return '\n' + (named ? describeWorkloadParams(named) : workloadListText(workloads) + "\n\nA workload's parameters: migsim record <workload> --help");
  });
  cmd.action(async (workload: string, opts: GuestCliOptions & { out: string; encoding: string; json?: boolean }) => (await import('../actions/record-action.js')).recordAction(ctx, workload, opts));
}
