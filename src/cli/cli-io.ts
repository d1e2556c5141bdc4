/** Where a command writes, so tests can run the CLI in-process. */
export interface CliIo {
  readonly out: (text: string) => void;
  readonly err: (text: string) => void;
  /** True when stdout is a terminal (progress bars go there only). */
  readonly isTty: boolean;
  /** How long a command runs before its progress bar appears (default 1 s; tests set 0). */
  readonly progressDelayMs?: number;
}

export const processIo: CliIo = {
  out: (t) => process.stdout.write(t),
  err: (t) => process.stderr.write(t),
  isTty: Boolean(process.stdout.isTTY),
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
