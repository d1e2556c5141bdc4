import type { RunOutcome } from '../reducers/summary.js';
import { EXIT_INCOMPLETE, EXIT_MISMATCH, EXIT_OK } from './cli-io.js';

/**
 * The exit code of one or more runs: 1 when any lost pages (failed), else
 * 3 when any did not complete, else 0. A script reads the worst case.
 */
export function outcomeExit(outcomes: readonly RunOutcome[]): number {
  if (outcomes.includes('failed')) return EXIT_MISMATCH;
  if (outcomes.includes('incomplete')) return EXIT_INCOMPLETE;
  return EXIT_OK;
}
