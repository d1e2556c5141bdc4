import type { DataPathFacts } from './migration/qemu-data-path.js';
import { Observable, type OperatorFunction } from '../util/rx.js';
import type { RunBatch } from '../events/run-batch.js';
import { COST_WORD_NS, runEventCostNs } from '../events/run-cost.js';
import { RUN_EVENT_KIND_NAMES, RunEventKind } from '../events/run-event-kind.js';
import type { AfterEnd, PolicyName } from './migration/migration-options.js';
import type { DowntimeParts, MigrationReport } from './migration/migration-ledger.js';
import { isRunFinal, type RunFinal } from './run-final.js';
import { stabilityFigures } from './round-stability.js';
import type { P2mPageSize, SuperpagePolicy, TrackerName } from './tracker.js';

export interface ExitTally {
  readonly count: number;
  readonly costNs: number;
}

/** A round: its times and pages from its run events; the rest from the migration's report. */
export interface RoundSummary {
  readonly round: number;
  readonly startNs: number;
  readonly endNs: number;
  readonly pagesSent?: number;
  /** Zero pages among them (header only on the wire). */
  readonly zeroPages?: number;
  /** xen-legacy: pages not sent because a PEEK showed them dirty again. */
  readonly pagesSkipped?: number;
  readonly bytesSent?: number;
  /** Pages the CLEAN (or QEMU sync) that ended the round reported dirty; -1 when none ended it. */
  readonly dirtyPages: number;
  /**
   * What stopping after this round would cost on the link: its dirty pages
   * at link speed (QEMU's expected-downtime, remaining / bandwidth).
   */
  readonly expectedDowntimeNs?: number;
  /**
   * Log-dirty rounds, from the second on: the share of this round's dirty
   * pages that were dirty in the previous round too (|A ∩ B| / |B|), and the
   * Jaccard index of the two sets (|A ∩ B| / |A ∪ B|): how stable the
   * working set is, the measure to compare a workload with a real capture.
   */
  readonly overlapWithPrevious?: number;
  readonly jaccardWithPrevious?: number;
}

/** A migration's round: every figure but the log-dirty rounds' stability. */
export type MigrationRound = Required<Omit<RoundSummary, 'overlapWithPrevious' | 'jaccardWithPrevious'>>;

export interface RemusEpoch {
  readonly epoch: number;
  readonly atNs: number;
  readonly dirtyPages: number;
  readonly pauseNs: number;
  readonly bytesSent: number;
}

/** What every run reports, migration or log-dirty rounds. */
interface CommonFigures<Round extends RoundSummary = RoundSummary> {
  readonly tracker: TrackerName;
  readonly superpages: SuperpagePolicy;
  readonly p2m: P2mPageSize;
  readonly rounds: readonly Round[];
  /** Exits, faults and log-dirty operations over the whole run, by run-event kind name. */
  readonly exits: Readonly<Record<string, ExitTally>>;
  readonly guestEvents: number;
  /** Guest time of the last event, and the wall time the run ended at. */
  readonly guestNs: number;
  readonly wallNs: number;
  readonly stallNs: number;
  /** Wall time over guest time, minus one: the share the guest was slowed by. */
  readonly slowdown: number;
  /** The most hypervisor memory the tracker held (sampled at each log-dirty operation and at the end). */
  readonly trackerMemoryBytes: number;
  readonly trackerStats: Readonly<Record<string, number>>;
  /** Pages whose latest write the destination (or the ideal copier) never got (must be 0). */
  readonly lostPages: number;
  readonly firstLostPfns: readonly number[];
}

/**
 * A migration's figures. Names follow QEMU's query-migrate where they
 * overlap (total-time, downtime, setup-time, dirty-sync-count, transferred,
 * dirty-pages-rate); times are integer ns, counts integers.
 */
/**
 * completed: the guest resumed on the destination with every page current;
 * failed: it resumed, but the oracle found pages (or PV page-table entries)
 * the destination lacks; incomplete: the guest's events ended first.
 */
export type RunOutcome = 'completed' | 'incomplete' | 'failed';

interface MigrationFigures {
  readonly policy: PolicyName;
  readonly outcome: RunOutcome;
  readonly stopReason: string;
  readonly startNs: number;
  readonly totalNs: number;
  readonly downtimeNs: number;
  readonly downtime: DowntimeParts;
  readonly setupNs: number;
  /** An incomplete migration: pages the destination still lacked when the guest's events ended. */
  readonly remainingPages?: number;
  /**
   * What the guest did after its events ended (`idle`: ran on, writing
   * nothing; `loop`: ran them again), how long the migration ran past them,
   * and how many times `loop` replayed them.
   */
  readonly afterEnd: AfterEnd;
  readonly afterEndNs: number;
  readonly afterEndLoops: number;
  /** Bitmap syncs: every CLEAN and FINAL, and the sync at setup of QEMU's pre-copy and post-copy (QEMU's dirty-sync-count). */
  readonly dirtySyncCount: number;
  /**
   * Time the migration thread spent in bitmap syncs, sending nothing (the
   * `bitmap_sync` run events' costs: each sync's log-dirty op and the
   * toolstack's walk of the bitmap, QEMU's setup, live and final syncs and
   * Xen's every pass and its last; 0 for traces recorded before the event
   * existed).
   */
  readonly dirtySyncNs: number;
  readonly pagesSent: number;
  readonly zeroPagesSent: number;
  /** Pages sent with their contents (QEMU's normal), and those contents' bytes (normal-bytes). */
  readonly normalPages: number;
  readonly normalBytes: number;
  readonly bytesSent: number;
  /** Bytes sent while the guest ran on the source, while it was paused, and after it resumed on the destination. */
  readonly precopyBytes: number;
  readonly downtimeBytes: number;
  /** Post-copy: the background push; Remus: the checkpoints. */
  readonly postcopyBytes?: number;
  readonly checkpointBytes?: number;
  /** Average rate on the wire from start to completion (QEMU's mbps, in bits) and pages per second. */
  readonly throughputBitsPerSec: number;
  readonly pagesPerSec: number;
  /** Pages dirtied per second of the live phase (sum of the CLEAN counts / live time). */
  readonly dirtyPagesRate: number;
  /** Exits and faults taken during the live phase (start to suspend; post-copy: to the last page). */
  readonly migrationExits: Readonly<Record<string, ExitTally>>;
  /** vCPU stall (all vCPUs) during the live phase: what tracking and sending cost the guest, downtime apart. */
  readonly migrationStallNs: number;
  /** That stall over the vCPU time the migration lasted: how much it slowed the guest. */
  readonly migrationSlowdown: number;
  readonly throttlePct: number;
  /**
   * Present when auto-converge throttled or dirty-limit slept the vCPUs:
   * each vCPU's time lost in the live phase (exits, pauses, throttle and
   * dirty-limit sleeps) over the live phase's length. Auto-converge slows
   * every busy vCPU; dirty-limit only those that dirty memory.
   */
  readonly vcpuSlowdown?: readonly number[];
  readonly throttleSteps: readonly { atNs: number; pct: number }[];
  readonly postcopyFaults: number;
  readonly postcopyFaultStallNs: number;
  /**
   * Once a post-copy phase completed, as QEMU's query-migrate gives them
   * (postcopy-requests, postcopy-blocktime, postcopy-vcpu-blocktime; here in
   * ns): host pages the destination asked for, the time every vCPU was
   * blocked at once, and each vCPU's time blocked on faults
   * (src/reducers/postcopy-blocktime.ts).
   */
  readonly postcopyRequests?: number;
  readonly postcopyBlocktimeNs?: number;
  readonly postcopyVcpuBlocktimeNs?: readonly number[];
  readonly epochs: readonly RemusEpoch[];
  readonly lostPtes: number;
  /** sha256 of the final state: page versions on both sides and every vCPU's stall. */
  readonly stateDigest: string;
  /**
   * QEMU's policies only (qemu, postcopy): the page contents the run used
   * and, under qemu, where zero pages were detected and what multifd and
   * XBZRLE did (src/reducers/migration/qemu-data-path.ts).
   */
  readonly dataPath?: DataPathFacts;
}

/** Log-dirty rounds' own figures. */
interface RoundsFigures {
  readonly roundNs: number;
  readonly stallNsByVcpu: readonly number[];
}

/**
 * The one summary of a run: a migration fills the migration figures,
 * log-dirty rounds the rounds figures; what does not apply is absent.
 */
export type RunSummary = CommonFigures & Partial<MigrationFigures> & Partial<RoundsFigures>;
/** A migration's summary: the migration figures present. */
export type MigrationSummary = CommonFigures<MigrationRound> & MigrationFigures;
/** Log-dirty rounds' summary: the rounds figures present. */
export type RoundsSummary = CommonFigures & RoundsFigures;

/** What the fold must know of the run besides its stream: what was asked for. */
export type SummarySpec =
  | {
      readonly mode: 'migration';
      readonly tracker: TrackerName;
      readonly superpages: SuperpagePolicy;
      readonly p2m: P2mPageSize;
      readonly policy: PolicyName;
      readonly startNs: number;
      readonly vcpus: number;
      readonly bandwidthBytesPerSec: number;
      readonly pageHeaderBytes: number;
      readonly afterEnd: AfterEnd;
    }
  | { readonly mode: 'rounds'; readonly tracker: TrackerName; readonly superpages: SuperpagePolicy; readonly p2m: P2mPageSize; readonly roundNs: number };

const KINDS = RUN_EVENT_KIND_NAMES.length;
const PAGE_BYTES = 4096;
/**
 * QEMU's policies, whose dirty-sync-count counts the sync at setup
 * (migration/ram.c ram_save_setup -> ram_init_bitmaps ->
 * migration_bitmap_sync_precopy, which increments dirty_sync_count) beside
 * every CLEAN and FINAL: pre-copy and post-copy both start with it.
 */
const QEMU_SETUP_SYNC = new Set<string>(['qemu', 'postcopy']);
/** Run events that are not exits or log-dirty operations of a tracker. */
const NOT_EXITS = new Set<number>([
  RunEventKind.roundStart,
  RunEventKind.pagesSent,
  RunEventKind.roundEnd,
  RunEventKind.suspend,
  RunEventKind.canonicalise,
  RunEventKind.resume,
  RunEventKind.divergence,
  RunEventKind.throttle,
  RunEventKind.checkpointEpoch,
  RunEventKind.tick,
  RunEventKind.costHigh,
  RunEventKind.bitmapSync,
]);
const IS_EXIT = Uint8Array.from({ length: 32 }, (_, k) => (k < KINDS && !NOT_EXITS.has(k) ? 1 : 0));
/** Where a phase can begin or end: the fold keeps the exit tally in front of each. */
const PHASE_EVENT = Uint8Array.from({ length: 32 }, (_, k) =>
  k === RunEventKind.logdirtyEnable || k === RunEventKind.roundStart || k === RunEventKind.roundEnd || k === RunEventKind.suspend || k === RunEventKind.resume ? 1 : 0,
);

const COST_HIGH = RunEventKind.costHigh;
const COST_WORD = COST_WORD_NS;
/** Exits the fold only counts (not clean, final or postcopy_fault, which it also reads). */
const PLAIN_EXIT = Uint8Array.from(IS_EXIT, (x, k) => (x && k !== RunEventKind.clean && k !== RunEventKind.final && k !== RunEventKind.postcopyFault ? 1 : 0));

interface Tally {
  readonly counts: Float64Array;
  readonly costsNs: Float64Array;
}

/**
 * The summary as a fold (STYLE: the summary is a fold): every figure a user
 * reads comes from the run events, plus the one RunFinal record for what
 * they do not carry. Replaying a trace's recorded run events through it
 * re-derives the recorded summary, so `replay --verify` proves the figures
 * follow from the trace.
 */
export class SummaryFold {
  private readonly counts = new Float64Array(KINDS);
  private readonly costsNs = new Float64Array(KINDS);
  /** The exit tally before each phase event, by its position in the run stream. */
  private readonly tallyAt = new Map<number, Tally>();
  private events = 0;
  private readonly roundStart: number[] = [];
  private readonly roundEnd: number[] = [];
  private readonly roundDirty: number[] = [];
  private readonly roundPages: number[] = [];
  private epochPages: number[] = [];
  private epochPauseNs: number[] = [];
  private pagesSent = 0;
  private syncs = 0;
  private syncNs = 0;
  private suspendAtNs = -1;
  private resumeAtNs = -1;
  private readonly throttleSteps: { atNs: number; pct: number }[] = [];
  private postcopyFaults = 0;
  private postcopyFaultStallNs = 0;

  constructor(readonly spec: SummarySpec) {}

  add(b: RunBatch): void {
    const { kind, dtNs, page, arg, costNs } = b;
    const n = b.count;
    const counts = this.counts;
    const costs = this.costsNs;
    let t = b.baseNs;
    for (let i = 0; i < n; i++) {
      const k = kind[i]!;
      t += dtNs[i]!;
      if (PHASE_EVENT[k]) this.tallyAt.set(this.events + i, { counts: counts.slice(), costsNs: costs.slice() });
      if (IS_EXIT[k]) {
        counts[k] = counts[k]! + 1;
        // runEventCostNs over the columns (a shadow run folds about one run
        // event per three guest events, and the imported function and its
        // loads of the batch's fields took 10 ns of each).
        const j = i + 1;
        costs[k] = costs[k]! + (j < n && kind[j] === COST_HIGH ? costNs[i]! + costNs[j]! * COST_WORD : costNs[i]!);
        // Most run events are exits that are only counted (a shadow run
        // emits one per emulated pt_write): the switch is for the rest.
        if (PLAIN_EXIT[k]) continue;
      }
      switch (k) {
        case RunEventKind.roundStart:
          this.roundStart[page[i]!] = t;
          break;
        case RunEventKind.roundEnd:
          this.roundEnd[page[i]!] = t;
          this.roundDirty[page[i]!] = arg[i]!;
          break;
        case RunEventKind.pagesSent:
          this.roundPages[page[i]!] = (this.roundPages[page[i]!] ?? 0) + arg[i]!;
          this.pagesSent += arg[i]!;
          break;
        case RunEventKind.checkpointEpoch:
          this.epochPages[page[i]!] = arg[i]!;
          this.epochPauseNs[page[i]!] = runEventCostNs(b, i);
          this.pagesSent += arg[i]!;
          break;
        case RunEventKind.clean:
        case RunEventKind.final:
          this.syncs++;
          break;
        case RunEventKind.suspend:
          if (this.suspendAtNs < 0) this.suspendAtNs = t;
          break;
        case RunEventKind.resume:
          if (this.resumeAtNs < 0) this.resumeAtNs = t;
          break;
        case RunEventKind.throttle:
          this.throttleSteps.push({ atNs: t, pct: arg[i]! });
          break;
        case RunEventKind.bitmapSync:
          this.syncNs += runEventCostNs(b, i);
          break;
        case RunEventKind.postcopyFault:
          this.postcopyFaults++;
          this.postcopyFaultStallNs += runEventCostNs(b, i);
          break;
      }
    }
    this.events += b.count;
  }

  /**
   * The first figure of a recorded migration summary that the run events
   * folded so far do not give, as "name: the summary says X, the events Y",
   * or undefined. Only what the events alone decide is compared (exits,
   * pages sent, round and downtime times, throttle steps, post-copy faults,
   * epochs); the rest comes from the run's final record, which only a
   * replay re-derives. A report or export of a trace checks its footer so.
   */
  disagreement(s: MigrationSummary): string | undefined {
    const differ = (name: string, recorded: unknown, events: unknown) => (JSON.stringify(recorded) === JSON.stringify(events) ? undefined : `${name}: the summary says ${JSON.stringify(recorded)}, the events ${JSON.stringify(events)}`);
    const rounds = s.rounds.map((r, round) => ({ startNs: r.startNs, endNs: r.endNs, pagesSent: r.pagesSent, round }));
    const eventRounds = s.rounds.map((_r, round) => ({ startNs: this.roundStart[round], endNs: this.roundEnd[round], pagesSent: this.roundPages[round] ?? 0, round }));
    const downtimeNs = this.suspendAtNs >= 0 && this.resumeAtNs >= 0 ? this.resumeAtNs - this.suspendAtNs : 0;
    return (
      differ('exits', s.exits, tallyOf(this.counts, this.costsNs)) ??
      differ('pagesSent', s.pagesSent, this.pagesSent) ??
      differ('downtimeNs', s.downtimeNs, downtimeNs) ??
      differ('rounds', rounds, eventRounds) ??
      differ('throttleSteps', s.throttleSteps, this.throttleSteps) ??
      differ('postcopyFaults', [s.postcopyFaults, s.postcopyFaultStallNs], [this.postcopyFaults, this.postcopyFaultStallNs]) ??
      differ('epochs', s.epochs.map((e) => [e.dirtyPages, e.pauseNs]), s.epochs.map((_e, i) => [this.epochPages[i], this.epochPauseNs[i]]))
    );
  }

  finish(f: RunFinal): RunSummary {
    const exits = tallyOf(this.counts, this.costsNs);
    const wallNs = Math.round(f.wallNs);
    const slowdown = f.guestNs > 0 ? wallNs / f.guestNs - 1 : 0;
    const { tracker, superpages, p2m } = this.spec;
    if (this.spec.mode === 'rounds') {
      const stallNsByVcpu = f.stallNsByVcpu.map(Math.round);
      const summary: RoundsSummary = {
        tracker,
        superpages,
        p2m,
        roundNs: this.spec.roundNs,
        rounds: this.roundEnd.map((endNs, round) => {
          const dirtyPages = this.roundDirty[round]!;
          const stable = stabilityFigures(f.roundStability?.[round], dirtyPages) ?? {};
          return { round, startNs: this.roundStart[round]!, endNs, dirtyPages, ...stable };
        }),
        exits,
        guestEvents: f.guestEvents,
        guestNs: f.guestNs,
        wallNs,
        stallNs: stallNsByVcpu.reduce((a, b) => a + b, 0),
        stallNsByVcpu,
        slowdown,
        trackerMemoryBytes: f.trackerMemoryBytes,
        trackerStats: f.trackerStats,
        lostPages: f.lostPages,
        firstLostPfns: f.firstLostPfns,
      };
      return summary;
    }
    const m = f.migration;
    if (!m) throw new Error('a migration run ended without its report');
    // The guest's slowdown is over its events: the idle time a migration
    // ran on after them slowed nothing (replayed events are events).
    const eventsWallNs = wallNs - (f.afterEndLoops ? 0 : Math.round(m.afterEndNs));
    const eventsSlowdown = f.guestNs > 0 ? eventsWallNs / f.guestNs - 1 : 0;
    const spec = this.spec;
    const startNs = spec.startNs;
    const pageWireBytes = PAGE_BYTES + spec.pageHeaderBytes;
    const rounds = m.rounds.map((r, round) => ({
      round,
      startNs: this.roundStart[round]!,
      endNs: this.roundEnd[round]!,
      pagesSent: this.roundPages[round] ?? 0,
      zeroPages: r.zeroPages,
      pagesSkipped: r.pagesSkipped,
      bytesSent: r.bytesSent,
      dirtyPages: r.dirtyPages,
      expectedDowntimeNs: Math.ceil((Math.max(0, r.dirtyPages) * pageWireBytes * 1e9) / spec.bandwidthBytesPerSec),
    }));
    const liveDirtied = m.rounds.reduce((a, r) => a + Math.max(0, r.dirtyPages), 0) + m.switchDirtyPages;
    const liveNs = (m.suspendAtNs >= 0 ? m.suspendAtNs : m.completedAtNs) - startNs;
    const migrationStallNs = Math.round(Math.max(0, m.stallAtEndNs - m.stallAtStartNs));
    const migrationNs = Math.max(0, m.liveEndNs - startNs) * spec.vcpus;
    const begun = m.liveFromEvent >= 0;
    const totalNs = Math.round((m.completedAtNs >= 0 ? m.completedAtNs : wallNs) - startNs);
    const lost = m.lostPages + m.lostPtes;
    const outcome: RunOutcome = m.outcome === 'completed' && lost > 0 ? 'failed' : m.outcome;
    // Bytes by phase: a round that ends by the suspend is pre-copy, one that
    // starts after the resume is post-copy; the rest (the stop-and-copy
    // round, and state sent outside any round) went while the guest was paused.
    const suspendAt = this.suspendAtNs >= 0 ? this.suspendAtNs : Infinity;
    const resumeAt = this.resumeAtNs >= 0 ? this.resumeAtNs : Infinity;
    let precopyBytes = 0;
    let afterBytes = 0;
    for (const r of rounds) {
      if (r.endNs <= suspendAt) precopyBytes += r.bytesSent;
      else if (r.startNs >= resumeAt) afterBytes += r.bytesSent;
    }
    const checkpointBytes = m.epochs.reduce((a, e) => a + e.bytesSent, 0);
    // A migration that never suspended (incomplete) sent every byte while
    // the guest ran, those of the round still under way included: none went
    // in a downtime that never happened.
    if (this.suspendAtNs < 0) precopyBytes = m.bytesSent - afterBytes - checkpointBytes;
    const downtimeBytes = m.bytesSent - precopyBytes - afterBytes - checkpointBytes;
    // QEMU's normal pages: neither zero nor sent as an XBZRLE delta (nor skipped by it as unchanged).
    const xbzrle = m.dataPath?.xbzrle;
    const normalPages = this.pagesSent - m.zeroPagesSent - (xbzrle ? xbzrle.pages + xbzrle.unchanged : 0);
    const summary: MigrationSummary = {
      tracker,
      policy: spec.policy,
      superpages,
      p2m,
      outcome,
      stopReason: m.stopReason,
      startNs,
      totalNs,
      downtimeNs: this.suspendAtNs >= 0 && this.resumeAtNs >= 0 ? this.resumeAtNs - this.suspendAtNs : 0,
      downtime: roundParts(m.downtime),
      setupNs: Math.round(m.setupNs),
      ...(m.outcome === 'incomplete' ? { remainingPages: m.remainingPages } : {}),
      afterEnd: spec.afterEnd,
      afterEndNs: Math.round(m.afterEndNs),
      afterEndLoops: f.afterEndLoops ?? 0,
      rounds,
      dirtySyncCount: this.syncs + (QEMU_SETUP_SYNC.has(spec.policy) && begun ? 1 : 0),
      dirtySyncNs: this.syncNs,
      pagesSent: this.pagesSent,
      zeroPagesSent: m.zeroPagesSent,
      normalPages,
      normalBytes: normalPages * PAGE_BYTES,
      bytesSent: m.bytesSent,
      precopyBytes,
      downtimeBytes,
      ...(spec.policy === 'postcopy' ? { postcopyBytes: afterBytes } : {}),
      ...(spec.policy === 'remus' ? { checkpointBytes } : {}),
      throughputBitsPerSec: totalNs > 0 ? Math.round((m.bytesSent * 8e9) / totalNs) : 0,
      pagesPerSec: totalNs > 0 ? Math.round((this.pagesSent * 1e9) / totalNs) : 0,
      dirtyPagesRate: liveNs > 0 ? Math.round((liveDirtied * 1e9) / liveNs) : 0,
      guestEvents: f.guestEvents,
      guestNs: f.guestNs,
      wallNs,
      stallNs: Math.round(f.stallNsByVcpu.reduce((a, b) => a + b, 0)),
      slowdown: eventsSlowdown,
      exits,
      migrationExits: this.liveExits(m),
      migrationStallNs,
      migrationSlowdown: migrationNs > 0 ? migrationStallNs / migrationNs : 0,
      trackerMemoryBytes: f.trackerMemoryBytes,
      trackerStats: f.trackerStats,
      throttlePct: this.throttleSteps.at(-1)?.pct ?? 0,
      ...(this.throttleSteps.length > 0 || this.counts[RunEventKind.dirtyLimitSleep]! > 0 ? { vcpuSlowdown: vcpuSlowdown(m, startNs) } : {}),
      throttleSteps: this.throttleSteps,
      postcopyFaults: this.postcopyFaults,
      postcopyFaultStallNs: this.postcopyFaultStallNs,
      ...(m.postcopy
        ? { postcopyRequests: m.postcopy.requests, postcopyBlocktimeNs: Math.round(m.postcopy.blocktimeNs), postcopyVcpuBlocktimeNs: m.postcopy.vcpuBlocktimeNs.map(Math.round) }
        : {}),
      epochs: m.epochs.map((e, epoch) => ({ epoch, atNs: e.atNs, dirtyPages: this.epochPages[epoch]!, pauseNs: this.epochPauseNs[epoch]!, bytesSent: e.bytesSent })),
      lostPages: m.lostPages,
      firstLostPfns: m.firstLostPfns,
      lostPtes: m.lostPtes,
      stateDigest: f.stateDigest,
      ...(m.dataPath ? { dataPath: m.dataPath } : {}),
    };
    return summary;
  }

  /** Exits emitted from the live phase's first run event to its last. */
  private liveExits(m: MigrationReport): Record<string, ExitTally> {
    if (m.liveToEvent < 0) return {};
    const at = (p: number): Tally => {
      if (p <= 0) return { counts: new Float64Array(KINDS), costsNs: new Float64Array(KINDS) };
      if (p === this.events) return { counts: this.counts, costsNs: this.costsNs };
      const t = this.tallyAt.get(p);
      if (!t) throw new Error(`the live phase's boundary at run event ${p} is not at a phase event`);
      return t;
    };
    const from = at(m.liveFromEvent);
    const to = at(m.liveToEvent);
    const counts = to.counts.map((c, k) => c - from.counts[k]!);
    const costs = to.costsNs.map((c, k) => c - from.costsNs[k]!);
    return tallyOf(counts, costs);
  }
}

/** Exit counts and costs by kind code, as a record by kind name (kinds with none left out). */
function tallyOf(counts: Float64Array, costsNs: Float64Array): Record<string, ExitTally> {
  const out: Record<string, ExitTally> = {};
  for (let k = 0; k < KINDS; k++) {
    if (counts[k]! <= 0) continue;
    out[RUN_EVENT_KIND_NAMES[k]!] = { count: counts[k]!, costNs: Math.round(costsNs[k]!) };
  }
  return out;
}

/** Each vCPU's lost time over the live phase, as a share of it. */
function vcpuSlowdown(m: MigrationReport, startNs: number): number[] {
  const liveNs = m.liveEndNs - startNs;
  const end = m.lostAtEndNsByVcpu.length > 0 ? m.lostAtEndNsByVcpu : m.lostAtStartNsByVcpu;
  return end.map((e, v) => (liveNs > 0 ? Math.max(0, e - (m.lostAtStartNsByVcpu[v] ?? 0)) / liveNs : 0));
}

function roundParts(p: DowntimeParts): DowntimeParts {
  return {
    suspendNs: Math.round(p.suspendNs),
    finalCleanNs: Math.round(p.finalCleanNs),
    finalPagesNs: Math.round(p.finalPagesNs),
    canonicaliseNs: Math.round(p.canonicaliseNs),
    stateNs: Math.round(p.stateNs),
    resumeNs: Math.round(p.resumeNs),
    ...(p.deviceStateNs !== undefined ? { deviceStateNs: Math.round(p.deviceStateNs) } : {}),
    ...(p.deviceLoadNs !== undefined ? { deviceLoadNs: Math.round(p.deviceLoadNs) } : {}),
  };
}

/** The fold as an operator: run batches in, then the final record; one summary out. */
export function summarize(spec: SummarySpec): OperatorFunction<RunBatch | RunFinal, RunSummary> {
  return (source: Observable<RunBatch | RunFinal>) =>
    new Observable<RunSummary>((subscriber) => {
      const fold = new SummaryFold(spec);
      return source.subscribe({
        next(x) {
          try {
            if (isRunFinal(x)) subscriber.next(fold.finish(x));
            else fold.add(x);
          } catch (e) {
            subscriber.error(e);
          }
        },
        error: (e) => subscriber.error(e),
        complete: () => subscriber.complete(),
      });
    });
}
