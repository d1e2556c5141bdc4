import { NO_VCPU } from '../../events/guest-event-kind.js';
import { RunEventKind } from '../../events/run-event-kind.js';
import type { MigrationContext } from './migration-context.js';
import type { PageContents } from './page-contents.js';
import { contentFacts, type DataPathFacts, type QemuDataPath, SentAs, ZERO_PAGE_FILL_BYTES } from './qemu-data-path.js';

const PAGE_BYTES = 4096;

export type MigrationOutcome = 'completed' | 'incomplete';

/**
 * How a toolstack's stream carries a page of zeros (DESIGN section 4):
 * - full: as any other page. Xen's stream carries every populated page in
 *   full: tools/libs/guest/xg_sr_save.c write_batch maps each pfn whose type
 *   has stream data and writes PAGE_SIZE bytes for it (xc_domain_save too);
 * - flag: a flag in the page's header and no data. QEMU's migration/ram.c
 *   save_zero_page (with multifd, the zero-page-detection parameter). Which
 *   pages are zero is the run's page contents' to say (page-contents.ts): a
 *   page never written since boot always is.
 */
export type ZeroPageRule = 'full' | 'flag';

export interface DowntimeParts {
  readonly suspendNs: number;
  readonly finalCleanNs: number;
  readonly finalPagesNs: number;
  readonly canonicaliseNs: number;
  readonly stateNs: number;
  readonly resumeNs: number;
  /** Of stateNs, the device state's share: given only when the run sets the device state (`--device-state`). */
  readonly deviceStateNs?: number;
  /**
   * The guest stopped before the destination had loaded the devices'
   * pre-copy data (no switchover-ack): the rest of that load, during which
   * the guest cannot resume. Given only when the run has device pre-copy data.
   */
  readonly deviceLoadNs?: number;
}

/** Post-copy's own account (QEMU's query-migrate postcopy-requests, postcopy-blocktime, postcopy-vcpu-blocktime). */
export interface PostcopyFacts {
  readonly requests: number;
  readonly blocktimeNs: number;
  readonly vcpuBlocktimeNs: readonly number[];
}

export const NO_DOWNTIME: DowntimeParts = { suspendNs: 0, finalCleanNs: 0, finalPagesNs: 0, canonicaliseNs: 0, stateNs: 0, resumeNs: 0 };

/**
 * What a round's run events do not carry (they carry its start, end and
 * pages sent): the zero pages among them, pages skipped, bytes on the wire,
 * and the dirty count of the CLEAN that ended it (-1 when none did; the
 * round_end event cannot tell that from 0).
 */
export interface RoundFacts {
  readonly zeroPages: number;
  readonly pagesSkipped: number;
  readonly bytesSent: number;
  readonly dirtyPages: number;
}

export interface EpochFacts {
  readonly atNs: number;
  readonly bytesSent: number;
}

/**
 * A migration's account of itself at the end of the run: the facts that its
 * run events do not carry. The summary fold (src/reducers/summary.ts) takes
 * everything else from the events; run-event positions are counts of run
 * events emitted before the moment, so the fold can place the live phase in
 * the event stream exactly.
 */
export interface MigrationReport {
  readonly outcome: MigrationOutcome;
  readonly stopReason: string;
  /** Wall time the migration completed (resume, last post-copy page), or -1. */
  readonly completedAtNs: number;
  /** Wall time the guest was suspended, or -1. */
  readonly suspendAtNs: number;
  readonly setupNs: number;
  readonly downtime: DowntimeParts;
  readonly rounds: readonly RoundFacts[];
  readonly zeroPagesSent: number;
  readonly bytesSent: number;
  /** Each Remus epoch's start and bytes sent (its pages and pause are in its run event). */
  readonly epochs: readonly EpochFacts[];
  /** Run events emitted before the live phase began and before it ended (-1: it did not end). */
  readonly liveFromEvent: number;
  readonly liveToEvent: number;
  /** Wall time the live phase ended (suspend; post-copy: the last page), or -1. */
  readonly liveEndNs: number;
  /** vCPU stall (all vCPUs) when the migration began and when its live phase ended. */
  readonly stallAtStartNs: number;
  readonly stallAtEndNs: number;
  /** Each vCPU's lost time (stall and throttle sleeps, VcpuClock.lostNsByVcpu) when the migration began and when its live phase ended. */
  readonly lostAtStartNsByVcpu: readonly number[];
  readonly lostAtEndNsByVcpu: readonly number[];
  /** Pages dirtied in the live phase that no round's CLEAN counted (post-copy's switch). */
  readonly switchDirtyPages: number;
  /** An incomplete migration: pages the destination still lacked when the guest's events ended. */
  readonly remainingPages: number;
  /** Wall time the migration ran on after the guest's events ended (`afterEnd: 'idle'`), or 0. */
  readonly afterEndNs: number;
  /** The oracle's verdict at resume (and at each Remus epoch). */
  readonly lostPages: number;
  readonly firstLostPfns: readonly number[];
  readonly lostPtes: number;
  /** Policies whose stream sends zero pages as flags (QEMU's): the page contents, and QEMU's multifd and XBZRLE figures. */
  readonly dataPath?: DataPathFacts;
  /** Present once a post-copy phase completed. */
  readonly postcopy?: PostcopyFacts;
}

/** Counts run events as they are emitted, so a phase boundary has a position in the stream. */
export interface CountingEmitter {
  readonly eventCount: number;
}

/**
 * The books every migration policy keeps the same way: rounds, pages and
 * bytes sent, the oracle's copy of each page sent, and the outcome. A page's
 * contents are taken when it is sent, so a write after that re-dirties it.
 */
export class MigrationLedger {
  outcome: MigrationOutcome = 'incomplete';
  stopReason = '';
  completedAtNs = -1;
  suspendAtNs = -1;
  setupNs = 0;
  downtime: DowntimeParts = NO_DOWNTIME;
  pagesSent = 0;
  zeroPagesSent = 0;
  bytesSent = 0;
  readonly epochs: EpochFacts[] = [];
  lostPages = 0;
  firstLostPfns: number[] = [];
  lostPtes = 0;
  switchDirtyPages = 0;
  remainingPages = 0;
  afterEndNs = 0;
  postcopy: PostcopyFacts | undefined;
  private readonly rounds: RoundFacts[] = [];
  private liveFromEvent = -1;
  private liveToEvent = -1;
  private liveEndNs = -1;
  private stallAtStartNs = 0;
  private stallAtEndNs = -1;
  private lostAtStartNsByVcpu: number[] = [];
  private lostAtEndNsByVcpu: number[] = [];
  // The round under way.
  private roundPages = 0;
  private roundZero = 0;
  private roundSkipped = 0;
  private roundBytes = 0;

  /** QEMU's data path (multifd, XBZRLE, zero-page detection), when the policy has one: it decides each page's bytes and CPU. */
  dataPath: QemuDataPath | undefined;

  constructor(
    private readonly ctx: MigrationContext,
    private readonly events: CountingEmitter,
    private readonly zeroPages: ZeroPageRule,
    readonly contents: PageContents,
  ) {}

  get roundCount(): number {
    return this.rounds.length;
  }

  get pagesInRound(): number {
    return this.roundPages;
  }

  get skippedInRound(): number {
    return this.roundSkipped;
  }

  /** The migration begins: the live phase's stall and run events count from here. */
  begin(): void {
    this.stallAtStartNs = this.ctx.clock.totalStallNs();
    this.lostAtStartNsByVcpu = this.ctx.clock.lostNsByVcpu();
    this.liveFromEvent = this.events.eventCount;
  }

  startRound(now: number): void {
    this.roundPages = 0;
    this.roundZero = 0;
    this.roundSkipped = 0;
    this.roundBytes = 0;
    this.ctx.run.emit(RunEventKind.roundStart, now, NO_VCPU, this.rounds.length, 0, 0);
  }

  endRound(now: number, dirtyPages: number): void {
    this.rounds.push({ zeroPages: this.roundZero, pagesSkipped: this.roundSkipped, bytesSent: this.roundBytes, dirtyPages });
    this.ctx.run.emit(RunEventKind.roundEnd, now, NO_VCPU, this.rounds.length - 1, Math.max(dirtyPages, 0), 0);
  }

  /**
   * Copies a page's contents to the destination; returns its bytes on the
   * wire. `lastStage`: sent while the guest is stopped (QEMU's XBZRLE then
   * updates no cache).
   */
  sendPage(pfn: number, lastStage = false): number {
    const dataPath = this.dataPath;
    const bytes = dataPath ? dataPath.send(pfn, lastStage) : this.wirePageBytes(pfn);
    this.ctx.oracle.send(pfn);
    const written = this.ctx.writtenBytes;
    if (written !== undefined) written[pfn] = 0;
    this.pagesSent++;
    this.roundPages++;
    this.bytesSent += bytes;
    this.roundBytes += bytes;
    if (dataPath ? dataPath.lastSentAs === SentAs.zero : bytes < PAGE_BYTES) {
      this.zeroPagesSent++;
      this.roundZero++;
    }
    return bytes;
  }

  /** A page the destination already has (post-copy's push): counted, not copied again. */
  pushPages(pages: number, bytes: number): void {
    this.roundPages += pages;
    this.pagesSent += pages;
    this.roundBytes += bytes;
    this.bytesSent += bytes;
  }

  skipPage(): void {
    this.roundSkipped++;
  }

  /** vCPU and device state: bytes on the wire in the round under way. */
  sendState(bytes: number): void {
    this.bytesSent += bytes;
    this.roundBytes += bytes;
  }

  /**
   * A page's bytes on the wire. Under the `flag` rule a zero page goes as
   * its header and a byte of fill (QEMU's save_zero_page); under `full`
   * every page goes with its 4 KiB.
   */
  wirePageBytes(pfn: number): number {
    const header = this.ctx.costs.pageHeaderBytes;
    return this.zeroPages === 'flag' && this.contents.isZero(pfn, this.ctx.oracle.srcVersion[pfn]!) ? header + ZERO_PAGE_FILL_BYTES : PAGE_BYTES + header;
  }

  /**
   * How long the pages sent since the last batch take, `bytes` of them on
   * the link at `bytesPerSec`: the link's time, or longer when QEMU's
   * multifd threads cannot keep up (QemuDataPath.batchNs).
   */
  pagesNs(bytes: number, bytesPerSec?: number): number {
    const linkNs = this.ctx.link.wireNs(bytes, bytesPerSec);
    return this.dataPath ? this.dataPath.batchNs(linkNs) : linkNs;
  }

  /** A batch of pages goes on the wire at `bytesPerSec`: its run event, and how long it takes. */
  transmit(now: number, pages: number, bytes: number, bytesPerSec?: number): number {
    const durationNs = this.pagesNs(bytes, bytesPerSec);
    this.ctx.run.emit(RunEventKind.pagesSent, now, NO_VCPU, this.rounds.length, pages, durationNs);
    return durationNs;
  }

  /**
   * The live phase is over (at suspend; post-copy: when the last page
   * arrived; an incomplete run: at its end): what tracking cost the guest
   * is measured up to here, downtime apart.
   */
  endLive(atNs: number): void {
    this.liveEndNs = atNs;
    this.stallAtEndNs = this.ctx.clock.totalStallNs();
    this.lostAtEndNsByVcpu = this.ctx.clock.lostNsByVcpu();
    this.liveToEvent = this.events.eventCount;
  }

  get liveEnded(): boolean {
    return this.liveToEvent >= 0;
  }

  /** The oracle's check at resume: every page current on the destination. */
  checkOracle(atNs: number): void {
    const d = this.ctx.oracle.divergent();
    this.lostPages += d.count;
    if (this.firstLostPfns.length === 0) this.firstLostPfns = d.first;
    for (const pfn of d.first) this.ctx.run.emit(RunEventKind.divergence, atNs, NO_VCPU, pfn, 0, 0);
    if (this.lostPtes > 0) this.ctx.run.emit(RunEventKind.divergence, atNs, NO_VCPU, -1, this.lostPtes, 0);
  }

  complete(atNs: number): void {
    this.completedAtNs = atNs;
    this.outcome = 'completed';
  }

  report(): MigrationReport {
    return {
      outcome: this.outcome,
      stopReason: this.stopReason,
      completedAtNs: this.completedAtNs,
      suspendAtNs: this.suspendAtNs,
      setupNs: this.setupNs,
      downtime: this.downtime,
      rounds: this.rounds,
      zeroPagesSent: this.zeroPagesSent,
      bytesSent: this.bytesSent,
      epochs: this.epochs,
      liveFromEvent: this.liveFromEvent,
      liveToEvent: this.liveToEvent,
      liveEndNs: this.liveEndNs,
      stallAtStartNs: this.stallAtStartNs,
      stallAtEndNs: this.stallAtEndNs,
      lostAtStartNsByVcpu: this.lostAtStartNsByVcpu,
      lostAtEndNsByVcpu: this.lostAtEndNsByVcpu,
      switchDirtyPages: this.switchDirtyPages,
      remainingPages: this.remainingPages,
      afterEndNs: this.afterEndNs,
      lostPages: this.lostPages,
      firstLostPfns: this.firstLostPfns,
      lostPtes: this.lostPtes,
      ...(this.zeroPages === 'flag' ? { dataPath: { pageContents: contentFacts(this.contents), ...this.dataPath?.facts() } } : {}),
      ...(this.postcopy ? { postcopy: this.postcopy } : {}),
    };
  }
}
