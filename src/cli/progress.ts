import { createRequire } from 'node:module';
import type cliProgressModule from 'cli-progress';
import { tap } from '../util/rx.js';
import type { GuestSource } from '../api/guest-source.js';
import { formatCount, formatDurationNs } from '../model/units.js';
import type { CliContext } from './cli-io.js';

/** What a command calls as it goes: the work done so far (in `total`'s units), then stop. */
export interface Progress {
  update(done: number): void;
  /**
   * Clears the bar so that a result can be printed (cli-progress saves the
   * cursor at start and returns to it at stop: a bar drawn over lines
   * printed to stdout garbles them); the next update draws it again.
   */
  hide(): void;
  stop(): void;
}

export interface ProgressOptions {
  /** The command prints JSON: no bar, whatever the terminal. */
  readonly json?: boolean;
  /** How long a command runs before its bar appears (default: the io's, else 1 s). */
  readonly delayMs?: number;
  /** Formats the done and total figures for the bar (default: integers); null: the percentage alone. */
  readonly unit?: ((n: number) => string) | null;
  /** Said after the figures at each draw (a sweep's failures so far). */
  readonly detail?: () => string;
}

const NO_PROGRESS: Progress = { update: () => {}, hide: () => {}, stop: () => {} };

/**
 * A progress bar on stderr, shown only when stdout is a terminal and the
 * command is not printing JSON, and only once the command has run for a
 * second: short commands and pipes see nothing. The simulation runs
 * synchronously, so no timer could redraw the bar: cli-progress redraws it
 * from `update` itself (its synchronousUpdate mode), at most ten times a
 * second, and the one-second delay is checked in `update` too.
 */
export function createProgress(ctx: CliContext, label: string, total: number, opts: ProgressOptions = {}): Progress {
  // --json first: asking whether stdout is a terminal may load node:tty (src/cli/stdio-write.ts).
  if (opts.json || !ctx.io.isTty) return NO_PROGRESS;
  const startedMs = Date.now();
  const delayMs = opts.delayMs ?? ctx.io.progressDelayMs ?? 1000;
  const unit = opts.unit === undefined ? formatCount : opts.unit;
  const shown = (done: number) => (unit ? `${unit(done)}/${unit(total)}` : '') + (opts.detail?.() ?? '');
  // cli-progress writes cursor moves and the bar through this stream; it
  // goes to the command's stderr so stdout stays clean for the results.
  const stream = { isTTY: true, columns: 100, write: (s: string) => (ctx.io.err(s), true) } as unknown as NodeJS.WritableStream;
  let bar: cliProgressModule.SingleBar | undefined;
  let stopped = false;
  return {
    update(done: number) {
      if (stopped) return;
      if (!bar) {
        if (Date.now() - startedMs < delayMs) return;
        const cliProgress = loadCliProgress();
        bar = new cliProgress.SingleBar(
          {
            stream,
            format: `${label} [{bar}] {percentage}%${unit || opts.detail ? ' {shown}' : ''} | {eta_formatted} left`,
            barsize: 30,
            hideCursor: true,
            clearOnComplete: true,
            synchronousUpdate: true,
            fps: 10,
            etaBuffer: 50,
          },
          cliProgress.Presets.shades_classic,
        );
        bar.start(total, done, { shown: shown(done) });
        return;
      }
      bar.update(done, { shown: shown(done) });
    },
    hide() {
      bar?.stop();
      bar = undefined;
    },
    stop() {
      if (stopped) return;
      stopped = true;
      bar?.stop();
    },
  };
}

/**
 * cli-progress (CommonJS, so it can be required synchronously from
 * `update`) is loaded only when a bar is first drawn: a command on a pipe,
 * or one done within the delay, never loads it.
 */
function loadCliProgress(): typeof cliProgressModule {
  return createRequire(import.meta.url)('cli-progress') as typeof cliProgressModule;
}

/**
 * A guest source whose events move a progress bar (guest time over the
 * events' duration) as a run consumes them. Call `stop` when the run ends.
 */
export function sourceWithProgress(ctx: CliContext, label: string, source: GuestSource, json: boolean | undefined): { source: GuestSource; stop: () => void } {
  const durationNs = Math.max(source.header.workload.durationNs, 1);
  const progress = createProgress(ctx, label, durationNs, { json, unit: formatDurationNs });
  return {
    source: { ...source, events: () => source.events().pipe(tap((b) => progress.update(Math.min(b.endNs, durationNs)))) },
    stop: () => progress.stop(),
  };
}

/**
 * A bar over the share of the work done, for an api that reports a
 * fraction (0..1) rather than counts: drawn as a percentage.
 */
export function createShareProgress(ctx: CliContext, label: string, json: boolean | undefined): Progress {
  const progress = createProgress(ctx, label, 100, { json, unit: null });
  return { update: (f) => progress.update(f * 100), hide: () => progress.hide(), stop: () => progress.stop() };
}

/**
 * What synchronous `work` returns, the bar stopped (its line cleared) as
 * soon as it returns or throws, before the command prints anything.
 */
export function withProgress<T>(progress: { stop(): void }, work: () => T): T {
  try {
    return work();
  } finally {
    progress.stop();
  }
}

/**
 * `withProgress` for async work: what it resolves to, the bar stopped as
 * soon as it settles (or throws before returning its promise), before the
 * command prints anything.
 */
export async function withProgressAsync<T>(progress: { stop(): void }, work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } finally {
    progress.stop();
  }
}
