import { createHash } from 'node:crypto';
import type { GuestBatch } from '../events/guest-batch.js';
import type { RunBatch } from '../events/run-batch.js';
import { type DowntimeParts, MigrationEngine, type MigrationRound, type RemusEpoch } from '../reducers/migration-engine.js';
import { DEFAULT_MIGRATION, type MigrationOptions } from '../reducers/migration-options.js';
import { Simulation } from '../reducers/simulation.js';
import type { P2mPageSize, SuperpagePolicy, TrackerName } from '../reducers/tracker.js';
import type { TraceHeader } from '../trace/trace-records.js';
import { drainSync } from '../util/drain-sync.js';
import type { GuestSource } from './guest-source.js';
import { type ExitTally, tallyExits } from './exit-tally.js';
import { type SimulationOptions, simulationSetup } from './simulation-setup.js';

export interface MigrationRunOptions extends SimulationOptions {
  readonly migration?: Partial<MigrationOptions>;
}

/**
 * What a user reads after a migration. Names follow QEMU's query-migrate
 * where they overlap (total-time, downtime, setup-time, dirty-sync-count,
 * transferred, dirty-pages-rate); times are integer ns, counts integers.
 */
export interface MigrationSummary {
  readonly tracker: TrackerName;
  readonly policy: MigrationOptions['policy'];
  readonly superpages: SuperpagePolicy;
  readonly p2m: P2mPageSize;
  readonly outcome: 'completed' | 'incomplete';
  readonly stopReason: string;
  readonly startNs: number;
  readonly totalNs: number;
  readonly downtimeNs: number;
  readonly downtime: DowntimeParts;
  readonly setupNs: number;
  readonly rounds: readonly MigrationRound[];
  readonly dirtySyncCount: number;
  readonly pagesSent: number;
  readonly zeroPagesSent: number;
  readonly bytesSent: number;
  /** Pages dirtied per second of the live phase (sum of the CLEAN counts / live time). */
  readonly dirtyPagesRate: number;
  readonly guestEvents: number;
  readonly guestNs: number;
  readonly wallNs: number;
  readonly stallNs: number;
  readonly slowdown: number;
  readonly exits: Readonly<Record<string, ExitTally>>;
  /** Exits and faults taken during the live phase (start to suspend; post-copy: to the last page). */
  readonly migrationExits: Readonly<Record<string, ExitTally>>;
  /** vCPU stall (all vCPUs) during the live phase: what tracking and sending cost the guest, downtime apart. */
  readonly migrationStallNs: number;
  /** That stall over the vCPU time the migration lasted: how much it slowed the guest. */
  readonly migrationSlowdown: number;
  /** The most hypervisor memory the tracker held (sampled at each log-dirty operation and at the end). */
  readonly trackerMemoryBytes: number;
  readonly trackerStats: Readonly<Record<string, number>>;
  readonly throttlePct: number;
  readonly throttleSteps: readonly { atNs: number; pct: number }[];
  readonly postcopyFaults: number;
  readonly postcopyFaultStallNs: number;
  readonly epochs: readonly RemusEpoch[];
  readonly lostPages: number;
  readonly firstLostPfns: readonly number[];
  readonly lostPtes: number;
  /** sha256 of the final state: page versions on both sides and every vCPU's stall. */
  readonly stateDigest: string;
}

/** Migration options with the policy's defaults filled in. */
export function migrationOptions(partial: Partial<MigrationOptions> = {}): MigrationOptions {
  return { ...DEFAULT_MIGRATION, ...partial };
}

/** Runs a migration of the source's guest under a tracker and a policy. */
export function runMigration(source: GuestSource, opts: MigrationRunOptions, onRunBatch: (b: RunBatch) => void = () => {}): MigrationSummary {
  return migrateEvents(source.header, (step) => drainSync(source.events(), step), opts, onRunBatch);
}

/**
 * The same, over any synchronous feed of guest batches (a workload, a
 * trace, a run trace being replayed).
 */
export function migrateEvents(
  h: TraceHeader,
  feed: (step: (b: GuestBatch) => void) => void,
  opts: MigrationRunOptions,
  onRunBatch: (b: RunBatch) => void,
): MigrationSummary {
  const mig = migrationOptions(opts.migration);
  const setup = simulationSetup(h, opts);
  const sim = new Simulation(setup, onRunBatch);
  const engine = new MigrationEngine(sim, mig);
  sim.attach(engine);
  feed((b) => sim.step(b));
  sim.finish(false);
  const exits: Record<string, ExitTally> = {};
  // Exits taken on the source (the tracker of the live phase) and, for
  // post-copy, on the destination.
  const st = engine.sourceTracker ?? sim.tracker;
  for (const t of new Set([st, sim.tracker])) tallyExits(exits, t.exitCounts, t.exitCostNs);
  if (engine.postcopyFaults > 0) exits['postcopy_fault'] = { count: engine.postcopyFaults, costNs: Math.round(engine.postcopyFaultStallNs) };
  const migrationExits: Record<string, ExitTally> = engine.exitsAtEnd
    ? tallyExits({}, engine.exitsAtEnd, engine.exitCostAtEnd!, { counts: engine.exitsAtStart, costsNs: engine.exitCostAtStart })
    : {};
  const migrationStallNs = Math.round(Math.max(0, engine.stallAtEndNs - engine.stallAtStartNs));
  const wallNs = Math.round(sim.clock.nowNs);
  const liveNs = (engine.suspendAtNs >= 0 ? engine.suspendAtNs : engine.completedAtNs) - mig.startNs;
  const stallNs = Math.round(sim.clock.totalStallNs());
  const migrationNs = Math.max(0, engine.liveEndNs - mig.startNs) * h.guest.vcpus;
  return {
    tracker: opts.tracker,
    policy: mig.policy,
    superpages: setup.superpages,
    p2m: setup.p2m,
    outcome: engine.outcome,
    stopReason: engine.stopReason,
    startNs: mig.startNs,
    totalNs: Math.round((engine.completedAtNs >= 0 ? engine.completedAtNs : wallNs) - mig.startNs),
    downtimeNs: Math.round(engine.downtimeNs),
    downtime: roundParts(engine.downtime),
    setupNs: Math.round(engine.setupNs),
    rounds: engine.rounds.map((r) => ({ ...r, startNs: Math.round(r.startNs), endNs: Math.round(r.endNs) })),
    dirtySyncCount: engine.dirtySyncCount,
    pagesSent: engine.pagesSent,
    zeroPagesSent: engine.zeroPagesSent,
    bytesSent: engine.bytesSent,
    dirtyPagesRate: liveNs > 0 ? Math.round((engine.liveDirtied * 1e9) / liveNs) : 0,
    guestEvents: sim.eventCount,
    guestNs: sim.guestNs,
    wallNs,
    stallNs,
    slowdown: sim.guestNs > 0 ? wallNs / sim.guestNs - 1 : 0,
    exits,
    migrationExits,
    migrationStallNs,
    migrationSlowdown: migrationNs > 0 ? migrationStallNs / migrationNs : 0,
    trackerMemoryBytes: st.peakMemoryBytes(),
    trackerStats: st.stats(),
    throttlePct: engine.throttlePct,
    throttleSteps: engine.throttleSteps,
    postcopyFaults: engine.postcopyFaults,
    postcopyFaultStallNs: Math.round(engine.postcopyFaultStallNs),
    epochs: engine.epochs,
    lostPages: engine.lostPages,
    firstLostPfns: engine.firstLostPfns,
    lostPtes: engine.lostPtes,
    stateDigest: stateDigest(sim),
  };
}

function stateDigest(sim: Simulation): string {
  const h = createHash('sha256');
  h.update(new Uint8Array(sim.oracle.srcVersion.buffer));
  h.update(new Uint8Array(sim.oracle.dstVersion.buffer));
  h.update(new Uint8Array(sim.clock.stallNs.buffer));
  return h.digest('hex');
}

function roundParts(p: DowntimeParts): DowntimeParts {
  return {
    suspendNs: Math.round(p.suspendNs),
    finalCleanNs: Math.round(p.finalCleanNs),
    finalPagesNs: Math.round(p.finalPagesNs),
    canonicaliseNs: Math.round(p.canonicaliseNs),
    stateNs: Math.round(p.stateNs),
    resumeNs: Math.round(p.resumeNs),
  };
}
