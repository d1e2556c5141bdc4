import type { MigrationReport } from './migration/migration-ledger.js';

/**
 * The one record a run emits after its last run batch: the state at the end
 * that run events do not carry. The summary (summary.ts) is a fold of the
 * run events and this record, nothing else.
 */
export interface RunFinal {
  readonly type: 'final';
  readonly guestEvents: number;
  /** Guest time of the last guest event, and the wall time the run ended at. */
  readonly guestNs: number;
  readonly wallNs: number;
  /** `afterEnd: 'loop'`: how many times the guest's events were replayed after they ended (absent: none). */
  readonly afterEndLoops?: number;
  /** Each vCPU's stall at the end (wall minus guest time). */
  readonly stallNsByVcpu: readonly number[];
  /** The most hypervisor memory the tracker of the live phase held, and its own counts. */
  readonly trackerMemoryBytes: number;
  readonly trackerStats: Readonly<Record<string, number>>;
  /** The oracle's verdict (a migration's is in its report). */
  readonly lostPages: number;
  readonly firstLostPfns: readonly number[];
  /** sha256 of the final state: page versions on both sides and every vCPU's stall ('' for log-dirty rounds, whose summary has none). */
  readonly stateDigest: string;
  /** A migration's account of itself; absent for log-dirty rounds. */
  readonly migration?: MigrationReport;
  /** Log-dirty rounds: each round's dirty set against the previous round's. */
  readonly roundStability?: readonly RoundStability[];
}

/**
 * Pages dirty in both a round and the one before it, and in either
 * (-1 for the first round, which has none before it).
 */
export interface RoundStability {
  readonly shared: number;
  readonly union: number;
}

/** A run stream carries run batches, then one RunFinal. */
export function isRunFinal(x: object): x is RunFinal {
  return (x as { type?: unknown }).type === 'final';
}
