import { type OperatorFunction, pipe } from '../util/rx.js';
import type { RunBatch } from '../events/run-batch.js';
import { RoundDriver } from '../reducers/round-driver.js';
import { simulate } from '../reducers/simulate.js';
import { type RoundsSummary, summarize } from '../reducers/summary.js';
import { lastValueSync } from '../util/last-value-sync.js';
import type { GuestSource } from './guest-source.js';
import { tapRunBatches } from './run-migration.js';
import { type SimulationOptions, simulationSetup } from './simulation-setup.js';

export type { RoundsSummary } from '../reducers/summary.js';

export interface RoundsOptions extends SimulationOptions {
  /** Length of a log-dirty round (default 100 ms). */
  readonly roundNs?: number;
  /** Wall time of log-dirty ENABLE (default 0). */
  readonly startNs?: number;
}

/**
 * Runs a tracker under fixed-interval log-dirty rounds (no migration):
 * per-round dirty counts, exits by kind, stall and slowdown, tracker memory,
 * and the oracle's lost pages.
 */
export function runRounds(source: GuestSource, opts: RoundsOptions, onRunBatch?: (b: RunBatch) => void): RoundsSummary {
  const setup = simulationSetup(source.header, opts);
  const roundNs = opts.roundNs ?? 100e6;
  const fold = summarize({ mode: 'rounds', tracker: opts.tracker, superpages: setup.superpages, p2m: setup.p2m, roundNs }) as OperatorFunction<unknown, RoundsSummary>;
  return lastValueSync(
    source.events().pipe(simulate({ ...setup, driver: RoundDriver.factory(roundNs, opts.startNs ?? 0) }), onRunBatch ? tapRunBatches(onRunBatch) : pipe(), fold),
  );
}
