import type { VcpuClock } from './vcpu-clock.js';
import type { Mmu } from './mmu.js';
import type { PageOracle } from './page-oracle.js';
import type { RunBatchBuilder } from '../events/run-batch-builder.js';
import type { CostModel } from '../model/cost-model.js';
import type { Tracker, TrackerGuest } from './tracker.js';
import type { GuestHost } from './migration/migration-context.js';
import type { MigrationReport } from './migration/migration-ledger.js';
import type { RoundStability } from './run-final.js';

/**
 * The toolstack side of a run: what asks the tracker for log-dirty
 * operations, at wall times of its own choosing, while the guest runs (a
 * fixed-interval round driver, or a migration policy). The simulation loop
 * hands it control whenever the guest's wall time reaches `nextActionNs`.
 */
export interface Driver {
  /** Wall time of the next thing the driver will do (Infinity when none). */
  readonly nextActionNs: number;
  /** Does what is due at `nextActionNs`. */
  act(): void;
  /** The guest has no more events; `wallNs` is the last wall time. */
  finish(wallNs: number): void;
  /** A migration that has resumed the guest on the destination (looping the guest's events stops then). */
  isComplete?(): boolean;
  /** The guest's own events ended at `wallNs`; what follows is their replay (`afterEnd: 'loop'`). */
  eventsEnded?(wallNs: number): void;
  /** A migration's account of what its run events do not carry (none for other drivers). */
  report?(): MigrationReport;
  /** Log-dirty rounds: each round's dirty set against the previous one's. */
  roundStability?(): readonly RoundStability[];
  /** The oracle's verdict, when the driver checks it itself at the end (log-dirty rounds). */
  verdict?(): { lostPages: number; firstLostPfns: readonly number[] };
}

/** What the simulation hands the toolstack it builds: the reducers, the run stream and the guest's host. */
export interface DriverWorld {
  readonly guest: TrackerGuest;
  readonly seed: number;
  readonly costs: CostModel;
  readonly clock: VcpuClock;
  readonly oracle: PageOracle;
  readonly mmu: Mmu;
  /** The tracker the guest starts under (its log-dirty interface). */
  readonly tracker: Tracker;
  readonly run: RunBatchBuilder;
  readonly host: GuestHost;
  /** Bytes stored into each page since the migration last sent it (SimulationSetup.countWriteBytes), else absent. */
  readonly writtenBytes?: Uint16Array;
}

/** Builds the toolstack of a run over the simulation's reducers. */
export type DriverFactory = (world: DriverWorld) => Driver;
