// The small trace the progress tests read: 200 ms of hot-set on 64 MiB
// (200,001 events, four chunks), recorded through the CLI as a user would.
import { expect } from 'vitest';
import { runCli } from '../cli/cli-run.js';

/** The workload and its options, for `record` and `run`. */
const SMALL_HOT_SET = ['hot-set', '--duration', '200ms', '--mem', '64MiB', '--seed', '1'] as const;

/** Records the small hot-set workload trace to `file`. */
export async function recordSmallHotSet(file: string): Promise<void> {
  expect((await runCli('record', ...SMALL_HOT_SET, '-o', file)).code).toBe(0);
}

/** Runs the small hot-set workload under `tracker` and records the run trace to `file`. */
export async function recordSmallHotSetRun(file: string, tracker: string): Promise<void> {
  expect((await runCli('run', ...SMALL_HOT_SET, '--tracker', tracker, '--record', file)).code).toBe(0);
}
