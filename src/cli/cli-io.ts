import { isTerminal, writeStdio } from './stdio-write.js';

/** Where a command writes, so tests can run the CLI in-process. */
export interface CliIo {
  readonly out: (text: string) => void;
  readonly err: (text: string) => void;
  /** True when stdout is a terminal (progress bars go there only). */
  readonly isTty: boolean;
  /** How long a command runs before its progress bar appears (default 1 s; tests set 0). */
  readonly progressDelayMs?: number;
  /** Resident bytes at which a run is stopped (default: 90% of the machine's memory, src/cli/memory-guard.ts; tests set less). */
  readonly memoryLimitBytes?: number;
}

let stdoutIsTerminal: boolean | undefined;

/** The process's stdout and stderr, written by descriptor (src/cli/stdio-write.ts); whether stdout is a terminal, asked when a command asks. */
export const processIo: CliIo = {
  out: (t) => writeStdio(1, t),
  err: (t) => writeStdio(2, t),
  get isTty() {
    return (stdoutIsTerminal ??= isTerminal(1));
  },
};

/** What every command is given: where to write, the raw argv, how to set the exit code. */
export interface CliContext {
  readonly io: CliIo;
  readonly argv: readonly string[];
  setExit(code: number): void;
}

/** Exit codes scripts can rely on. */
export const EXIT_OK = 0;
/** A verification found a difference, or a run lost pages. */
export const EXIT_MISMATCH = 1;
/** Bad input: a bad trace, an unknown workload, an impossible configuration. */
export const EXIT_BAD_INPUT = 2;
/** A migration did not complete: the guest's events ended first. */
export const EXIT_INCOMPLETE = 3;
/**
 * The output file was written whole, but another process writing the same
 * file at the same time replaced it at once: it holds the other's result
 * (src/util/atomic-write.ts).
 */
export const EXIT_REPLACED = 4;

/** The exit codes, at the end of `migsim --help` and of each command's help that runs or checks something. */
export const EXIT_CODES_HELP = `
Exit codes:
  0  completed: every migration resumed with every page current (or a check found no difference)
  1  failed: a run lost pages, or replay/golden check found a difference
  2  bad input: a bad trace or capture, an unknown name, a value outside what --help says,
     an impossible configuration, a file that cannot be read or written (one line says which)
  3  incomplete: the guest's events ended before the migration completed
  4  replaced: another command wrote the same output file at once; it holds the other's result
  70 internal error: a bug of migsim's (please report it with the command line)`;
