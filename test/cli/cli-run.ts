import { main } from '../../src/cli/main.js';

export interface CliResult {
  readonly code: number;
  readonly out: string;
  readonly err: string;
}

/** Runs the CLI in-process and captures what it prints. */
export async function runCli(...argv: string[]): Promise<CliResult> {
  return runMain(argv, { isTty: false });
}

/**
 * Runs the CLI in-process as on a terminal or on a pipe, with progress
 * bars drawn from their first update (no one-second delay), so a test
 * sees a bar however fast the command runs.
 */
export async function runCliAt(where: 'terminal' | 'pipe', ...argv: string[]): Promise<CliResult> {
  return runMain(argv, { isTty: where === 'terminal', progressDelayMs: 0 });
}

/** Runs the CLI in-process with a run stopped once the process holds more than `limitBytes` (src/cli/memory-guard.ts). */
export async function runCliWithMemoryLimit(limitBytes: number, ...argv: string[]): Promise<CliResult> {
  return runMain(argv, { isTty: false, memoryLimitBytes: limitBytes });
}

async function runMain(argv: string[], tty: { isTty: boolean; progressDelayMs?: number; memoryLimitBytes?: number }): Promise<CliResult> {
  let out = '';
  let err = '';
  const code = await main(argv, { out: (t) => (out += t), err: (t) => (err += t), ...tty });
  return { code, out, err };
}

/** What a progress bar's stop writes last: its line cleared (cursor back to column 1, line erased). */
export const BAR_CLEARED = '\u001b[1G\u001b[2K';
