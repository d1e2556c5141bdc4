import type { RunBatch } from '../events/run-batch.js';
import { type ExitTally, tallyExits } from './exit-tally.js';
import { RoundDriver, type RoundRecord } from '../reducers/round-driver.js';
import { Simulation } from '../reducers/simulation.js';
import type { P2mPageSize, SuperpagePolicy, TrackerName } from '../reducers/tracker.js';
import { drainSync } from '../util/drain-sync.js';
import type { GuestSource } from './guest-source.js';
import { type SimulationOptions, simulationSetup } from './simulation-setup.js';

export interface RoundsOptions extends SimulationOptions {
  /** Length of a log-dirty round (default 100 ms). */
  readonly roundNs?: number;
  /** Wall time of log-dirty ENABLE (default 0). */
  readonly startNs?: number;
}

export interface RoundsSummary {
  readonly tracker: TrackerName;
  readonly superpages: SuperpagePolicy;
  readonly p2m: P2mPageSize;
  readonly roundNs: number;
  readonly rounds: readonly RoundRecord[];
  /** Exits, faults and log-dirty operations by run-event kind name. */
  readonly exits: Readonly<Record<string, ExitTally>>;
  readonly guestEvents: number;
  /** Guest time of the last event, and the wall time the run ended at. */
  readonly guestNs: number;
  readonly wallNs: number;
  readonly stallNs: number;
  readonly stallNsByVcpu: readonly number[];
  /** Wall time over guest time, minus one: the share the guest was slowed by. */
  readonly slowdown: number;
  readonly trackerMemoryBytes: number;
  readonly trackerStats: Readonly<Record<string, number>>;
  /** Pages whose latest write the tracker never reported (must be 0). */
  readonly lostPages: number;
  readonly firstLostPfns: readonly number[];
}

/**
 * Runs a tracker under fixed-interval log-dirty rounds (issue 4's `run`):
 * per-round dirty counts, exits by kind, stall and slowdown, tracker memory,
 * and the oracle's lost pages.
 */
export function runRounds(source: GuestSource, opts: RoundsOptions, onRunBatch: (b: RunBatch) => void = () => {}): RoundsSummary {
  const setup = simulationSetup(source.header, opts);
  const sim = new Simulation(setup, onRunBatch);
  const tracking = opts.tracker !== 'direct';
  const roundNs = opts.roundNs ?? 100e6;
  const driver = new RoundDriver(sim.tracker, sim.oracle, sim.run, roundNs, opts.startNs ?? 0, tracking);
  sim.attach(driver);
  drainSync(source.events(), (b) => sim.step(b));
  const { lostPages, firstLost } = sim.finish(tracking);
  const t = sim.tracker;
  const exits = tallyExits({}, t.exitCounts, t.exitCostNs);
  const stallNsByVcpu = Array.from(sim.clock.stallNs, Math.round);
  const wallNs = Math.round(sim.clock.nowNs);
  return {
    tracker: opts.tracker,
    superpages: setup.superpages,
    p2m: setup.p2m,
    roundNs,
    rounds: driver.rounds,
    exits,
    guestEvents: sim.eventCount,
    guestNs: sim.guestNs,
    wallNs,
    stallNs: stallNsByVcpu.reduce((a, b) => a + b, 0),
    stallNsByVcpu,
    slowdown: sim.guestNs > 0 ? wallNs / sim.guestNs - 1 : 0,
    trackerMemoryBytes: t.peakMemoryBytes(),
    trackerStats: t.stats(),
    lostPages,
    firstLostPfns: firstLost,
  };
}
