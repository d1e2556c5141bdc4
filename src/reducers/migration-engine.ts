import { NO_VCPU } from '../events/guest-event-kind.js';
import { RunEventKind } from '../events/run-event-kind.js';
import { allSet, nextSetBit, orInto } from './bitmap-scan.js';
import type { Driver } from './driver.js';
import { countBits } from './logdirty-bitmap.js';
import {
  DEF_MAX_ITERS,
  LEGACY_MIN_PAGES,
  type MigrationOptions,
  QEMU_WINDOW_NS,
  SPP_MAX_ITERATIONS,
  SPP_TARGET_DIRTY_COUNT,
  THROTTLE_INCREMENT_PCT,
  THROTTLE_INITIAL_PCT,
  THROTTLE_MAX_PCT,
  THROTTLE_PERIOD_NS,
  THROTTLE_TRIGGER_PCT,
  XEN_BATCH_PAGES,
} from './migration-options.js';
import { canonicaliseAndCheck } from './pv-canonicalise.js';
import type { Simulation } from './simulation.js';
import type { Tracker } from './tracker.js';
import { DestinationTracker } from './tracker-destination.js';
import { PostcopyTracker } from './tracker-postcopy.js';

const PAGE_BYTES = 4096;

export interface MigrationRound {
  readonly round: number;
  readonly startNs: number;
  readonly endNs: number;
  readonly pagesSent: number;
  /** Zero pages among them (header only on the wire). */
  readonly zeroPages: number;
  /** xen-legacy: pages not sent because a PEEK showed them dirty again. */
  readonly pagesSkipped: number;
  readonly bytesSent: number;
  /** Pages the CLEAN (or QEMU sync) that ended the round reported dirty; -1 when none ended it. */
  readonly dirtyPages: number;
}

export interface DowntimeParts {
  readonly suspendNs: number;
  readonly finalCleanNs: number;
  readonly finalPagesNs: number;
  readonly canonicaliseNs: number;
  readonly stateNs: number;
  readonly resumeNs: number;
}

export interface RemusEpoch {
  readonly epoch: number;
  readonly atNs: number;
  readonly dirtyPages: number;
  readonly pauseNs: number;
  readonly bytesSent: number;
}

export type MigrationOutcome = 'completed' | 'incomplete';

/**
 * The toolstack's migration engine (DESIGN section 7), as a Driver over the
 * running simulation: it asks the tracker for log-dirty operations in wall
 * time while the guest runs, sends pages over a link in batches (a page's
 * contents are taken when its batch is assembled, so a write during the
 * transfer re-dirties it), and stops and copies.
 *
 * Policies follow their sources:
 * - xen: tools/libs/guest/xg_sr_save.c send_memory_live with
 *   simple_precopy_policy: a full pass, then CLEAN and dirty passes; when a
 *   CLEAN reports fewer than 50 pages they are still sent live once more,
 *   and then the guest is suspended; at most 5 passes.
 * - xen-legacy: tools/libxc/xc_domain_save.c: PEEK before each 1024-page
 *   batch and skip pages already dirty again; after a pass, stop if
 *   iter >= 29, or sent+skipped < 50, or more than 3x memory was sent.
 * - qemu: migration/migration.c migration_iteration_run and
 *   migration_update_counters, migration/ram.c: live sending capped at
 *   max-bandwidth in 100 ms windows, bandwidth measured per window, a
 *   bitmap sync whenever the remaining estimate is below bandwidth x
 *   downtime-limit, switch-over when it still is after the sync; the
 *   completion (ram_save_complete) is not rate-limited. Auto-converge per
 *   migration_trigger_throttle.
 * - postcopy, checkpoint (xm save / restore), remus (xl remus epochs).
 */
export class MigrationEngine implements Driver {
  nextActionNs: number;
  readonly rounds: MigrationRound[] = [];
  readonly epochs: RemusEpoch[] = [];
  outcome: MigrationOutcome = 'incomplete';
  stopReason = '';
  downtimeNs = 0;
  downtime: DowntimeParts = { suspendNs: 0, finalCleanNs: 0, finalPagesNs: 0, canonicaliseNs: 0, stateNs: 0, resumeNs: 0 };
  setupNs = 0;
  suspendAtNs = -1;
  resumeAtNs = -1;
  completedAtNs = -1;
  pagesSent = 0;
  zeroPagesSent = 0;
  bytesSent = 0;
  dirtySyncCount = 0;
  lostPages = 0;
  firstLostPfns: number[] = [];
  lostPtes = 0;
  canonicalisedTables = 0;
  throttlePct = 0;
  throttleSteps: { atNs: number; pct: number }[] = [];
  postcopyFaults = 0;
  postcopyFaultStallNs = 0;
  liveDirtied = 0;
  /** vCPU stall (all vCPUs) when the migration started and when it completed. */
  stallAtStartNs = 0;
  stallAtEndNs = -1;
  liveEndNs = -1;
  /** Source tracker exits by kind when the migration started and completed. */
  exitsAtStart: Float64Array = new Float64Array(32);
  exitCostAtStart: Float64Array = new Float64Array(32);
  exitsAtEnd: Float64Array | undefined;
  exitCostAtEnd: Float64Array | undefined;
  /** The tracker of the live phase, kept when the guest moves to the destination. */
  sourceTracker: Tracker | undefined;

  private readonly memPages: number;
  private toSend: Uint32Array;
  private cursor = 0;
  private pass = 0;
  private step: () => void;
  // The round under way.
  private roundStartNs = 0;
  private roundPages = 0;
  private roundZero = 0;
  private roundSkipped = 0;
  private roundBytes = 0;
  private stopAfterPass = false;
  // QEMU's rate limit and measurement.
  private windowStartNs = 0;
  private windowBytes = 0;
  private thresholdBytes = 0;
  private periodStartNs = 0;
  private periodDirtyPages = 0;
  private periodBytes = 0;
  private dirtyRateHighCount = 0;
  private postcopy: PostcopyTracker | undefined;

  constructor(
    private readonly sim: Simulation,
    readonly opts: MigrationOptions,
  ) {
    this.memPages = sim.setup.guest.memPages;
    this.toSend = new Uint32Array(0);
    this.nextActionNs = opts.startNs;
    this.step = () => this.begin();
  }

  act(): void {
    this.step();
  }

  finish(wallNs: number): void {
    // The guest has no more events: it is idle from here on. A migration
    // still live is left incomplete (QEMU would go on forever with a guest
    // that never converges); an ongoing post-copy or Remus runs to its end.
    if (this.postcopy) {
      while (this.nextActionNs !== Infinity) this.step();
      return;
    }
    if (this.opts.policy === 'remus' && this.outcome === 'completed') {
      this.markEnd(wallNs);
      this.nextActionNs = Infinity;
      this.completedAtNs = Math.max(this.completedAtNs, wallNs);
      return;
    }
    if (this.outcome !== 'completed') {
      this.markEnd(wallNs);
      this.stopReason = this.suspendAtNs < 0 && this.rounds.length === 0 && this.pass === 0 ? 'the workload ended before the migration started' : 'the workload ended before the migration completed';
      this.completedAtNs = wallNs;
    }
    this.nextActionNs = Infinity;
  }

  // ---- set-up and live passes ----

  private begin(): void {
    const now = this.nextActionNs;
    const p = this.opts.policy;
    this.stallAtStartNs = this.sim.clock.totalStallNs();
    this.exitsAtStart = this.sim.tracker.exitCounts.slice();
    this.exitCostAtStart = this.sim.tracker.exitCostNs.slice();
    if (p === 'checkpoint') {
      this.stopAndCopy(now, 'checkpoint: the guest is paused for the whole save', true);
      return;
    }
    const before = this.sim.clock.domainPausedNs;
    this.sim.tracker.enable(now);
    this.setupNs = this.sim.clock.domainPausedNs - before;
    if (p === 'qemu') this.dirtySyncCount = 1; // ram_save_setup syncs the bitmap once
    this.toSend = allSet(this.memPages);
    this.cursor = 0;
    this.pass = 1;
    this.windowStartNs = now + this.setupNs;
    this.periodStartNs = this.windowStartNs;
    this.startRound(this.windowStartNs);
    this.schedule(this.windowStartNs, () => (p === 'qemu' ? this.qemuSend() : this.xenSend()));
  }

  private startRound(now: number): void {
    this.roundStartNs = now;
    this.roundPages = 0;
    this.roundZero = 0;
    this.roundSkipped = 0;
    this.roundBytes = 0;
    this.sim.run.emit(RunEventKind.roundStart, now, NO_VCPU, this.rounds.length, 0, 0);
  }

  private endRound(now: number, dirtyPages: number): void {
    this.rounds.push({
      round: this.rounds.length,
      startNs: this.roundStartNs,
      endNs: now,
      pagesSent: this.roundPages,
      zeroPages: this.roundZero,
      pagesSkipped: this.roundSkipped,
      bytesSent: this.roundBytes,
      dirtyPages,
    });
    if (dirtyPages > 0) this.liveDirtied += dirtyPages;
    this.sim.run.emit(RunEventKind.roundEnd, now, NO_VCPU, this.rounds.length - 1, Math.max(dirtyPages, 0), 0);
  }

  /** One batch of a Xen pass (up to 1024 pages), or the end of the pass. */
  private xenSend(): void {
    const now = this.nextActionNs;
    const legacy = this.opts.policy === 'xen-legacy';
    // xc_domain_save PEEKs before each batch and skips pages dirty again:
    // they will be in the next CLEAN anyway.
    const skip = legacy ? this.sim.tracker.peek(now) : undefined;
    let pages = 0;
    let bytes = 0;
    let pfn = this.cursor;
    const header = this.sim.setup.costs.pageHeaderBytes;
    while (pages < XEN_BATCH_PAGES) {
      pfn = nextSetBit(this.toSend, pfn, this.memPages);
      if (pfn < 0) break;
      if (skip && (skip[pfn >>> 5]! & (1 << (pfn & 31))) !== 0) {
        this.roundSkipped++;
        pfn++;
        continue;
      }
      bytes += this.sendPage(pfn, header);
      pages++;
      pfn++;
    }
    this.cursor = pfn < 0 ? this.memPages : pfn;
    if (pages === 0 && pfn < 0) {
      this.endXenPass(now);
      return;
    }
    const durationNs = this.transmit(now, pages, bytes, this.opts.bandwidthBytesPerSec);
    this.schedule(now + durationNs, () => this.xenSend());
  }

  private endXenPass(now: number): void {
    const p = this.opts.policy;
    const t = this.sim.tracker;
    if (p === 'xen-legacy') {
      const maxIters = this.opts.maxIters ?? DEF_MAX_ITERS;
      const sentAndSkipped = this.roundPages + this.roundSkipped;
      let reason = '';
      if (this.pass >= maxIters) reason = `iteration limit reached (iter >= ${maxIters})`;
      else if (sentAndSkipped < LEGACY_MIN_PAGES) reason = `fewer than ${LEGACY_MIN_PAGES} pages sent or skipped in a round (${sentAndSkipped})`;
      else if (this.pagesSent > this.memPages * this.opts.maxFactor) reason = `more than ${this.opts.maxFactor}x memory sent`;
      if (reason) {
        this.endRound(now, -1);
        this.stopAndCopy(now, reason, false);
        return;
      }
      this.nextPass(now, t.clean(now));
      return;
    }
    // Migration v2 (xen) and the pre-copy of postcopy and remus.
    const maxPasses = p === 'postcopy' ? this.opts.postcopyAfterPasses : (this.opts.maxIters ?? SPP_MAX_ITERATIONS);
    if (this.stopAfterPass) {
      this.endRound(now, -1);
      return this.switchOver(now, `a CLEAN reported fewer than ${SPP_TARGET_DIRTY_COUNT} dirty pages`);
    }
    if (this.pass >= maxPasses) {
      this.endRound(now, -1);
      return this.switchOver(now, p === 'postcopy' ? `switched to post-copy after ${maxPasses} live pass(es)` : `live pass limit reached (${maxPasses})`);
    }
    const bits = t.clean(now);
    const dirty = countBits(bits);
    if (dirty < SPP_TARGET_DIRTY_COUNT && p !== 'postcopy') this.stopAfterPass = true;
    this.nextPass(now, bits, dirty);
  }

  private nextPass(now: number, bits: Uint32Array, dirty = countBits(bits)): void {
    this.endRound(now, dirty);
    this.toSend = bits;
    this.cursor = 0;
    this.pass++;
    this.startRound(now);
    this.schedule(now, () => this.xenSend());
  }

  private switchOver(now: number, reason: string): void {
    if (this.opts.policy === 'postcopy') this.startPostcopy(now, reason);
    else this.stopAndCopy(now, reason, false);
  }

  // ---- QEMU ----

  /** One chunk of QEMU's live sending, within the current window's budget. */
  private qemuSend(): void {
    const now = this.nextActionNs;
    if (now >= this.windowStartNs + QEMU_WINDOW_NS) this.closeWindow(now);
    const budget = Math.floor((this.opts.maxBandwidthBytesPerSec * QEMU_WINDOW_NS) / 1e9) - this.windowBytes;
    const header = this.sim.setup.costs.pageHeaderBytes;
    let pages = 0;
    let bytes = 0;
    let pfn = this.cursor;
    while (pages < XEN_BATCH_PAGES && bytes < budget) {
      pfn = nextSetBit(this.toSend, pfn, this.memPages);
      if (pfn < 0) break;
      this.toSend[pfn >>> 5] = this.toSend[pfn >>> 5]! & ~(1 << (pfn & 31));
      bytes += this.sendPage(pfn, header);
      pages++;
      pfn++;
    }
    this.cursor = pfn < 0 ? this.memPages : pfn;
    if (pages > 0) {
      this.windowBytes += bytes;
      this.periodBytes += bytes;
      const durationNs = this.transmit(now, pages, bytes, this.opts.bandwidthBytesPerSec);
      this.schedule(now + durationNs, () => this.qemuIterate());
      return;
    }
    if (bytes >= budget || budget <= 0) {
      // Rate-limited: wait for the next window (migration_rate_exceeded).
      this.schedule(this.windowStartNs + QEMU_WINDOW_NS, () => this.qemuSend());
      return;
    }
    this.qemuIterate();
  }

  /** migration_iteration_run: compare the pending estimate with the threshold, sync, maybe switch over. */
  private qemuIterate(): void {
    const now = this.nextActionNs;
    if (now >= this.windowStartNs + QEMU_WINDOW_NS) this.closeWindow(now);
    let pendingBytes = countBits(this.toSend) * PAGE_BYTES;
    if (pendingBytes <= this.thresholdBytes || pendingBytes === 0) {
      const bits = this.sim.tracker.clean(now);
      const dirty = countBits(bits);
      this.dirtySyncCount++;
      this.periodDirtyPages += dirty;
      orInto(this.toSend, bits);
      this.cursor = 0;
      this.endRound(now, dirty);
      this.maybeThrottle(now);
      pendingBytes = countBits(this.toSend) * PAGE_BYTES;
      if (pendingBytes === 0 && this.thresholdBytes === 0) {
        // Nothing to send and no bandwidth measured yet: let the window
        // close so that the threshold exists, as time would in QEMU.
        this.startRound(now);
        this.schedule(this.windowStartNs + QEMU_WINDOW_NS, () => this.qemuIterate());
        return;
      }
      if (pendingBytes < this.thresholdBytes) {
        this.stopAndCopy(now, `remaining ${pendingBytes} bytes fit the downtime limit at the measured bandwidth (threshold ${Math.round(this.thresholdBytes)} bytes)`, false);
        return;
      }
      this.startRound(now);
    }
    this.schedule(now, () => this.qemuSend());
  }

  private closeWindow(now: number): void {
    const elapsedNs = now - this.windowStartNs;
    if (elapsedNs > 0) {
      // migration_update_counters: bandwidth over the window, threshold = bandwidth x downtime-limit.
      const bytesPerNs = this.windowBytes / elapsedNs;
      this.thresholdBytes = bytesPerNs * this.opts.downtimeLimitNs;
    }
    this.windowStartNs = now;
    this.windowBytes = 0;
  }

  /** migration_trigger_throttle: dirtied bytes above 50% of sent bytes in two consecutive >= 1 s periods. */
  private maybeThrottle(now: number): void {
    if (!this.opts.autoConverge || now - this.periodStartNs < THROTTLE_PERIOD_NS) return;
    const dirtyBytes = this.periodDirtyPages * PAGE_BYTES;
    if (dirtyBytes * 100 > this.periodBytes * THROTTLE_TRIGGER_PCT) {
      if (++this.dirtyRateHighCount >= 2) {
        this.dirtyRateHighCount = 0;
        const pct = this.throttlePct === 0 ? THROTTLE_INITIAL_PCT : Math.min(THROTTLE_MAX_PCT, this.throttlePct + THROTTLE_INCREMENT_PCT);
        this.throttlePct = pct;
        this.sim.clock.setThrottle(pct);
        this.throttleSteps.push({ atNs: now, pct });
        this.sim.run.emit(RunEventKind.throttle, now, NO_VCPU, -1, pct, 0);
      }
    }
    this.periodStartNs = now;
    this.periodDirtyPages = 0;
    this.periodBytes = 0;
  }

  // ---- stop-and-copy ----

  /**
   * Suspend, final CLEAN, the remaining pages at link speed, PV
   * canonicalisation, vCPU and device state, resume on the destination.
   * The domain is paused from suspend to resume; the oracle checks every
   * page (and for PV every page-table entry) at that point.
   */
  private stopAndCopy(now: number, reason: string, wholeMemory: boolean): void {
    const sim = this.sim;
    const costs = sim.setup.costs;
    const bw = this.opts.bandwidthBytesPerSec;
    this.stopReason = reason;
    this.suspendAtNs = now;
    if (!this.exitsAtEnd) this.markEnd(now);
    sim.run.emit(RunEventKind.suspend, now, NO_VCPU, this.rounds.length, 0, costs.suspendNs);
    const suspendNs = costs.suspendNs;
    let finalCleanNs = 0;
    let bits: Uint32Array;
    if (wholeMemory) bits = allSet(this.memPages);
    else {
      const before = sim.clock.domainPausedNs;
      bits = sim.tracker.final(now + suspendNs);
      finalCleanNs = sim.clock.domainPausedNs - before;
      if (this.opts.policy === 'qemu') {
        this.dirtySyncCount++; // the completion's own sync
        orInto(bits, this.toSend);
      }
    }
    const finalDirty = countBits(bits);
    this.startRound(now + suspendNs + finalCleanNs);
    let bytes = 0;
    let pages = 0;
    let ptPages = 0;
    const header = costs.pageHeaderBytes;
    const mmu = sim.mmu;
    for (let pfn = nextSetBit(bits, 0, this.memPages); pfn >= 0; pfn = nextSetBit(bits, pfn + 1, this.memPages)) {
      bytes += this.sendPage(pfn, header);
      pages++;
      if (mmu.tableLevel(pfn) > 0) ptPages++;
    }
    const finalPagesNs = this.wireNs(bytes, bw);
    let canonicaliseNs = 0;
    if (sim.setup.guest.type === 'pv') {
      const c = canonicaliseAndCheck(mmu, this.memPages, sim.setup.seed, this.opts.skipCanonicalise);
      this.lostPtes = c.mismatches;
      this.canonicalisedTables = c.tables;
      // Save-side normalise and restore-side localise of each page-table
      // page sent while suspended.
      canonicaliseNs = 2 * ptPages * costs.canonicalisePerTableNs;
      sim.run.emit(RunEventKind.canonicalise, now, NO_VCPU, c.tables, c.mismatches, canonicaliseNs);
    }
    const stateBytes = sim.setup.guest.vcpus * costs.vcpuStateBytes + costs.deviceStateBytes;
    const stateNs = this.wireNs(stateBytes, bw);
    this.bytesSent += stateBytes;
    const resumeNs = costs.resumeNs;
    const rest = suspendNs + finalPagesNs + canonicaliseNs + stateNs + resumeNs;
    sim.clock.pauseAll(now, rest);
    const resumeAt = now + rest + finalCleanNs;
    this.roundBytes += stateBytes;
    sim.run.emit(RunEventKind.pagesSent, now + suspendNs + finalCleanNs, NO_VCPU, this.rounds.length, pages, finalPagesNs);
    this.endRound(resumeAt, finalDirty);
    this.downtime = { suspendNs, finalCleanNs, finalPagesNs, canonicaliseNs, stateNs, resumeNs };
    this.downtimeNs = resumeAt - now;
    this.checkOracle(resumeAt);
    this.resumeAtNs = resumeAt;
    this.completedAtNs = resumeAt;
    this.outcome = 'completed';
    sim.run.emit(RunEventKind.resume, resumeAt, NO_VCPU, this.rounds.length, 0, resumeNs);
    if (this.opts.policy === 'remus') {
      this.schedule(resumeAt + this.opts.epochNs, () => this.remusEpoch());
      return;
    }
    sim.clock.setThrottle(0);
    this.sourceTracker = sim.tracker;
    sim.swapTracker(new DestinationTracker(sim.env));
    this.nextActionNs = Infinity;
  }

  /**
   * Snapshot of stall and exits when the live phase is over (at suspend; for
   * post-copy when the last page arrived): the guest's cost of the
   * migration, apart from the downtime itself.
   */
  private markEnd(atNs: number): void {
    const t = this.sim.tracker;
    this.liveEndNs = atNs;
    this.stallAtEndNs = this.sim.clock.totalStallNs();
    this.exitsAtEnd = (this.sourceTracker ?? t).exitCounts.slice();
    this.exitCostAtEnd = (this.sourceTracker ?? t).exitCostNs.slice();
    if (this.postcopy) {
      for (let k = 0; k < 32; k++) {
        this.exitsAtEnd[k] = this.exitsAtEnd[k]! + this.postcopy.exitCounts[k]!;
        this.exitCostAtEnd[k] = this.exitCostAtEnd[k]! + this.postcopy.exitCostNs[k]!;
      }
    }
  }

  private checkOracle(atNs: number): void {
    const d = this.sim.oracle.divergent();
    this.lostPages += d.count;
    if (this.firstLostPfns.length === 0) this.firstLostPfns = d.first;
    for (const pfn of d.first) this.sim.run.emit(RunEventKind.divergence, atNs, NO_VCPU, pfn, 0, 0);
    if (this.lostPtes > 0) this.sim.run.emit(RunEventKind.divergence, atNs, NO_VCPU, -1, this.lostPtes, 0);
  }

  // ---- post-copy ----

  private startPostcopy(now: number, reason: string): void {
    const sim = this.sim;
    const costs = sim.setup.costs;
    this.stopReason = reason;
    this.suspendAtNs = now;
    sim.run.emit(RunEventKind.suspend, now, NO_VCPU, this.rounds.length, 0, costs.suspendNs);
    const before = sim.clock.domainPausedNs;
    const bits = sim.tracker.final(now + costs.suspendNs);
    const finalCleanNs = sim.clock.domainPausedNs - before;
    // Pages dirty since the last CLEAN are stale on the destination: every
    // other page must already be current there.
    const missing = bits.slice();
    const src = sim.oracle.srcVersion;
    const dst = sim.oracle.dstVersion;
    let lost = 0;
    const first: number[] = [];
    for (let pfn = 0; pfn < this.memPages; pfn++) {
      if (src[pfn] !== dst[pfn] && (missing[pfn >>> 5]! & (1 << (pfn & 31))) === 0) {
        lost++;
        if (first.length < 16) first.push(pfn);
      }
    }
    this.lostPages = lost;
    this.firstLostPfns = first;
    // From here on the destination is authoritative: the pages still
    // missing are fetched with the contents they had at the switch.
    for (let pfn = 0; pfn < this.memPages; pfn++) dst[pfn] = src[pfn]!;
    const stateBytes = sim.setup.guest.vcpus * costs.vcpuStateBytes + costs.deviceStateBytes;
    const stateNs = this.wireNs(stateBytes, this.opts.bandwidthBytesPerSec);
    this.bytesSent += stateBytes;
    const rest = costs.suspendNs + stateNs + costs.resumeNs;
    sim.clock.pauseAll(now, rest);
    const resumeAt = now + rest + finalCleanNs;
    this.downtime = { suspendNs: costs.suspendNs, finalCleanNs, finalPagesNs: 0, canonicaliseNs: 0, stateNs, resumeNs: costs.resumeNs };
    this.downtimeNs = resumeAt - now;
    this.resumeAtNs = resumeAt;
    sim.run.emit(RunEventKind.resume, resumeAt, NO_VCPU, this.rounds.length, 0, costs.resumeNs);
    const pageNs = this.wireNs(PAGE_BYTES + costs.pageHeaderBytes, this.opts.bandwidthBytesPerSec);
    this.postcopy = new PostcopyTracker(sim.env, missing, costs.postcopyRequestRttNs + pageNs);
    this.sourceTracker = sim.tracker;
    sim.swapTracker(this.postcopy);
    this.cursor = 0;
    this.startRound(resumeAt);
    this.schedule(resumeAt, () => this.postcopyPush());
  }

  /** The source pushes the missing pages in the background at link speed. */
  private postcopyPush(): void {
    const now = this.nextActionNs;
    const pc = this.postcopy!;
    const header = this.sim.setup.costs.pageHeaderBytes;
    let pages = 0;
    let bytes = 0;
    let pfn = this.cursor;
    while (pages < XEN_BATCH_PAGES) {
      pfn = nextSetBit(this.missingBits(), pfn, this.memPages);
      if (pfn < 0) break;
      pc.received(pfn);
      bytes += this.wirePageBytes(pfn, header);
      pages++;
      pfn++;
    }
    this.cursor = pfn < 0 ? this.memPages : pfn;
    if (pages === 0) {
      this.postcopyFaults = pc.faults;
      this.postcopyFaultStallNs = pc.faultStallNs;
      this.endRound(now, -1);
      this.completedAtNs = now;
      this.outcome = 'completed';
      this.markEnd(this.nextActionNs);
      this.sim.swapTracker(new DestinationTracker(this.sim.env));
      this.postcopy = undefined;
      this.nextActionNs = Infinity;
      return;
    }
    this.roundPages += pages;
    this.pagesSent += pages;
    this.roundBytes += bytes;
    this.bytesSent += bytes;
    const durationNs = this.wireNs(bytes, this.opts.bandwidthBytesPerSec);
    this.sim.run.emit(RunEventKind.pagesSent, now, NO_VCPU, this.rounds.length, pages, durationNs);
    this.schedule(now + durationNs, () => this.postcopyPush());
  }

  private missingBits(): Uint32Array {
    return this.postcopy!.missingBitmap;
  }

  // ---- Remus ----

  /** One checkpoint: suspend, FINAL CLEAN, copy dirty pages to a buffer, resume; send in the background. */
  private remusEpoch(): void {
    const now = this.nextActionNs;
    const sim = this.sim;
    const costs = sim.setup.costs;
    const before = sim.clock.domainPausedNs;
    const bits = sim.tracker.final(now + costs.suspendNs);
    const cleanNs = sim.clock.domainPausedNs - before;
    let pages = 0;
    let bytes = 0;
    const header = costs.pageHeaderBytes;
    for (let pfn = nextSetBit(bits, 0, this.memPages); pfn >= 0; pfn = nextSetBit(bits, pfn + 1, this.memPages)) {
      bytes += this.sendPage(pfn, header);
      pages++;
    }
    // Cully et al.: the primary is paused only to copy the dirty pages
    // into a staging buffer; they are transmitted while it runs again.
    const pauseNs = 2 * costs.suspendNs + pages * costs.checkpointCopyPerPageNs;
    sim.clock.pauseAll(now, pauseNs);
    this.checkOracle(now);
    this.epochs.push({ epoch: this.epochs.length, atNs: now, dirtyPages: pages, pauseNs: pauseNs + cleanNs, bytesSent: bytes });
    sim.run.emit(RunEventKind.checkpointEpoch, now, NO_VCPU, this.epochs.length - 1, pages, pauseNs + cleanNs);
    const sendNs = this.wireNs(bytes, this.opts.bandwidthBytesPerSec);
    // The next epoch starts an interval later, or when the link is free.
    this.schedule(now + Math.max(this.opts.epochNs, pauseNs + cleanNs + sendNs), () => this.remusEpoch());
  }

  // ---- the link ----

  /** Copies a page's contents to the destination; returns its bytes on the wire. */
  private sendPage(pfn: number, header: number): number {
    const bytes = this.wirePageBytes(pfn, header);
    this.sim.oracle.send(pfn);
    this.pagesSent++;
    this.roundPages++;
    this.bytesSent += bytes;
    this.roundBytes += bytes;
    if (bytes === header) {
      this.zeroPagesSent++;
      this.roundZero++;
    }
    return bytes;
  }

  /** A page never written since boot is a zero page: its header alone. */
  private wirePageBytes(pfn: number, header: number): number {
    return this.sim.oracle.srcVersion[pfn] === 0 ? header : PAGE_BYTES + header;
  }

  private transmit(now: number, pages: number, bytes: number, bw: number): number {
    const durationNs = this.wireNs(bytes, bw);
    this.sim.run.emit(RunEventKind.pagesSent, now, NO_VCPU, this.rounds.length, pages, durationNs);
    return durationNs;
  }

  private wireNs(bytes: number, bytesPerSec: number): number {
    return Math.ceil((bytes * 1e9) / bytesPerSec);
  }

  private schedule(atNs: number, step: () => void): void {
    this.nextActionNs = atNs;
    this.step = step;
  }
}
