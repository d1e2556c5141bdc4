import { Command, CommanderError } from 'commander';
import { PROGRAM_VERSION } from '../version.js';
import { type CliContext, type CliIo, EXIT_BAD_INPUT, EXIT_CODES_HELP, EXIT_OK, EXIT_REPLACED } from './cli-io.js';
import { FileReplacedError } from '../util/atomic-write.js';
import { registerInspect } from './commands/inspect-command.js';
import { registerRecord } from './commands/record-command.js';
import { registerReplay } from './commands/replay-command.js';
import { registerRun } from './commands/run-command.js';
import { registerCompare } from './commands/compare-command.js';
import { registerReport } from './commands/report-command.js';
import { registerExport } from './commands/export-command.js';
import { registerGolden } from './commands/golden-command.js';
import { registerImport } from './commands/import-command.js';
import { registerLazyCommands } from './lazy-commands.js';

/**
 * Start-up loads only commander and each command's options: a command's
 * work (the simulator, the trace codec, the importers, vega for reports,
 * zod for the schemas) is imported by its action when it runs
 * (src/cli/actions), and the error classes only when something failed, so
 * `migsim --help` and the start of a run pay for nothing they do not use
 * (test/cli/start-up-modules.test.ts holds the list).
 *
 * Runs the migsim command line and returns the exit code; never calls
 * process.exit, so tests run it in-process. `argv` excludes node and script.
 */
export async function main(argv: readonly string[], io: CliIo): Promise<number> {
  let exitCode = EXIT_OK;
  const ctx: CliContext = { io, argv, setExit: (c) => (exitCode = Math.max(exitCode, c)) };
  const program = new Command('migsim')
    .description('Event-sourced simulator of virtual-machine live migration')
    .version(PROGRAM_VERSION)
    .exitOverride()
    // A usage mistake is one line, as every other bad input is: commander's
    // message with the pointer to --help on the same line, not a second one.
    .configureOutput({ writeOut: io.out, writeErr: io.err, outputError: (text, write) => write(`${text.trimEnd()} (add --help for usage)\n`) })
    .addHelpText('after', EXIT_CODES_HELP)
    // A subcommand's arguments are its own (`sweep merge DIR -o FILE`: merge's -o, not sweep's).
    .enablePositionalOptions();
  // `migsim record [WORKLOAD] --help` lists the workloads (and one's parameters).
  const workloads = argv.includes('record') ? (await import('../workloads/registry.js')).WORKLOADS : [];
  const commands: readonly (readonly [string, () => void])[] = [
    ['record', () => registerRecord(program, ctx, workloads)],
    ['inspect', () => registerInspect(program, ctx)],
    ['replay', () => registerReplay(program, ctx)],
    ['run', () => registerRun(program, ctx)],
    ['compare', () => registerCompare(program, ctx)],
    ['report', () => registerReport(program, ctx)],
    ['export', () => registerExport(program, ctx)],
    ['golden', () => registerGolden(program, ctx)],
    ['import', () => registerImport(program, ctx)],
  ];
  // The program itself takes no option with a value, so the first word not
  // an option names the command. When it names one of these, that command
  // alone is declared: declaring the ~190 options of all of them was a tenth
  // of a short run's start. Any other first word (none, `help`, a lazy
  // command, a mistake commander should answer with the command list)
  // declares them all, so every help and error reads as before.
  const first = argv.find((a) => !a.startsWith('-'));
  const named = commands.find(([name]) => name === first);
  if (named) named[1]();
  else {
    for (const [, register] of commands) register();
    await registerLazyCommands(program, ctx, argv);
  }
  const override = (cmds: readonly Command[]): void => {
    for (const c of cmds) {
      c.exitOverride().configureOutput({ writeOut: io.out, writeErr: io.err });
      override(c.commands);
    }
  };
  override(program.commands);
  for (const c of program.commands) c.addHelpText('after', EXIT_CODES_HELP);

  try {
    await program.parseAsync([...argv], { from: 'user' });
    return exitCode;
  } catch (e) {
    if (e instanceof CommanderError) {
      // Help and version end with code 0; usage mistakes are already printed.
      return e.exitCode === 0 ? EXIT_OK : EXIT_BAD_INPUT;
    }
    const { userFacingMessage } = await import('./cli-failure.js');
    const message = userFacingMessage(e);
    if (message !== undefined) {
      io.err(`migsim: ${message}\n`);
      return e instanceof FileReplacedError ? EXIT_REPLACED : EXIT_BAD_INPUT;
    }
    throw e;
  }
}
