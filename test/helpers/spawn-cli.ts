import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';

/**
 * The built command line, as a user runs it: the bundle package.json's
 * "bin" names (scripts/bundle-cli.mjs; `npm run build` makes it, and
 * test/global-setup.ts makes it again from dist/src before the tests).
 */
export const BUILT_CLI = join(import.meta.dirname, '..', '..', 'dist', 'cli', 'migsim.js');

/** The same command line as tsc emits it, one module a file (what the bundle is made from). */
export const UNBUNDLED_CLI = join(import.meta.dirname, '..', '..', 'dist', 'src', 'cli', 'bin.js');

export interface ProcessResult {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly out: string;
  readonly err: string;
}

/**
 * Starts `node dist/cli/migsim.js ...args` in `cwd` as a process of its
 * own: for what only a real process shows (signals, two processes at once).
 */
export function spawnCli(cwd: string, ...args: string[]): { child: ChildProcess; done: Promise<ProcessResult> } {
  if (!existsSync(BUILT_CLI)) throw new Error(`${BUILT_CLI} is missing: build first (npm run build)`);
  const child = spawn(process.execPath, [BUILT_CLI, ...args], { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout!.on('data', (d) => (out += d));
  child.stderr!.on('data', (d) => (err += d));
  const done = new Promise<ProcessResult>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code, signal) => resolve({ code, signal, out, err }));
  });
  return { child, done };
}

/** Waits until `check` holds, polling every 10 ms, for at most `timeoutMs`; returns whether it held. */
export async function waitFor(check: () => boolean, timeoutMs: number): Promise<boolean> {
  const until = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > until) return false;
    await new Promise((r) => setTimeout(r, 10));
  }
  return true;
}
