import type { Command } from 'commander';
import { InvalidArgumentError, Option } from 'commander';
import { DEFAULT_GUEST } from '../../model/guest-config.js';
import { DEFAULT_IMPORT_HZ, DEFAULT_IPS } from '../../import/import-options.js';
import type { GuestType, PagingMode } from '../../model/paging.js';
import { parseNumber, sizeInput } from '../../model/units.js';
import { humanDefault } from '../human-default.js';
import { type CliContext, EXIT_CODES_HELP } from '../cli-io.js';
import { guestOption, pagingOption, positiveIntOption, positiveNumberOption, seedOption, sizeOption } from '../parse-options.js';

export interface ImportCliOptions {
  out: string;
  seed?: number;
  mem: number;
  vcpus?: number;
  guest: GuestType;
  paging: PagingMode;
  instrPerSec: number;
  /** The old spelling of --instr-per-sec, still accepted. */
  ips?: number;
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
    .addOption(
      humanDefault(
        '--instr-per-sec <n>',
        'instructions per second of guest time, for captures timed in instructions (lackey, and rtdirty files converted from it: time_unit instructions); recorded in the header as ips',
        positiveNumberOption,
        DEFAULT_IPS,
        DEFAULT_IPS.toExponential().replace('e+', 'e'),
      ),
    )
    .addOption(new Option('--ips <n>', 'the same as --instr-per-sec').argParser(positiveNumberOption).hideHelp())
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
  addImportOptions(rtdirty, 2).action(async (file: string, opts: ImportCliOptions) => (await import('../actions/import-action.js')).runImport('rtdirty', file, opts, ctx));
  const lackey = cmd
    .command('lackey')
    .description("import valgrind --tool=lackey --trace-mem=yes output (one program's loads and stores; plain or gzip)")
    .argument('<file>', 'the lackey log');
  addImportOptions(lackey, 1).action(async (file: string, opts: ImportCliOptions) => (await import('../actions/import-action.js')).runImport('lackey', file, opts, ctx));
  for (const c of [cmd, rtdirty, lackey]) c.exitOverride().configureOutput({ writeOut: io.out, writeErr: io.err });
  for (const c of [rtdirty, lackey]) c.addHelpText('after', EXIT_CODES_HELP);
}

