import { NO_VCPU } from '../../events/guest-event-kind.js';
import { RunEventKind } from '../../events/run-event-kind.js';
import { orInto } from '../bitmap-scan.js';
import { countBits } from '../logdirty-bitmap.js';
import type { PostcopyTracker } from '../tracker-postcopy.js';
import { bitmapWalkNs } from './bitmap-walk.js';
import type { MigrationContext } from './migration-context.js';
import type { MigrationLedger } from './migration-ledger.js';
import { hostPagePages, type MigrationOptions } from './migration-options.js';
import { PostcopySource } from './postcopy-source.js';
import { switchoverStateBytes } from './switchover-state.js';

/**
 * Post-copy's second half, shared by the `postcopy` policy (which switches
 * after its live passes) and QEMU's pre-copy when told to switch
 * (migrate-start-postcopy: migration.c postcopy_start, called from
 * migration_iteration_run once start_postcopy is set). The switch: suspend,
 * the final CLEAN says which pages are stale on the destination (with
 * `pending`, pages the source had still to send: QEMU's bitmap), vCPU and
 * device state move, and the guest resumes there at once. A first access
 * to a page still missing faults and waits for it (tracker-postcopy.ts);
 * meanwhile the source pushes the rest in the background
 * (postcopy-source.ts: the request queue, preempt, the bandwidth cap, host
 * pages). The migration completes with the last page.
 *
 * On hugetlbfs-backed RAM the missing set is whole host pages: at the
 * switch QEMU marks every partly dirty host page wholly dirty and discards
 * it on the destination (ram.c ram_postcopy_send_discard_bitmap ->
 * postcopy_chunk_hostpages_pass), since a host page can only be placed
 * whole.
 */
export class PostcopyPhase {
  /** Pages the destination lacked at the switch: every one must arrive (the oracle's count). */
  private readonly missingAtSwitch: number;

  private constructor(
    private readonly ctx: MigrationContext,
    private readonly ledger: MigrationLedger,
    private readonly postcopy: PostcopyTracker,
    private readonly source: PostcopySource,
  ) {
    this.missingAtSwitch = postcopy.pagesMissing;
  }

  /** The switch at `now`; returns the phase and the wall time the guest resumes on the destination (the push starts then). */
  static switchOver(ctx: MigrationContext, ledger: MigrationLedger, opts: MigrationOptions, now: number, reason: string, pending?: Uint32Array): { phase: PostcopyPhase; resumeAt: number } {
    const { costs, clock, link, oracle } = ctx;
    ledger.stopReason = reason;
    ledger.suspendAtNs = now;
    ctx.run.emit(RunEventKind.suspend, now, NO_VCPU, ledger.roundCount, 0, costs.suspendNs);
    const before = clock.domainPausedNs;
    const bits = ctx.logDirty.final(now + costs.suspendNs);
    const finalOpNs = clock.domainPausedNs - before;
    // postcopy_start's last sync walks the bitmap with the guest stopped
    // (ram_postcopy_send_discard_bitmap -> migration_bitmap_sync): downtime.
    const walkNs = bitmapWalkNs(ctx);
    const finalCleanNs = finalOpNs + walkNs;
    // Pages dirty since the last CLEAN are stale on the destination: every
    // other page must already be current there. From here on the
    // destination is authoritative: the missing pages are fetched with the
    // contents they had at the switch.
    const missing = bits.slice();
    ledger.switchDirtyPages = countBits(missing);
    ctx.run.emit(RunEventKind.bitmapSync, now + costs.suspendNs, NO_VCPU, ledger.roundCount, ledger.switchDirtyPages, finalCleanNs);
    if (pending) orInto(missing, pending);
    const hostPages = hostPagePages(opts);
    if (hostPages > 1) wholeHostPages(missing, hostPages, ctx.guest.memPages);
    const lost = oracle.switchToDestination(missing);
    ledger.lostPages = lost.count;
    ledger.firstLostPfns = lost.first;
    const state = switchoverStateBytes(ctx, opts);
    const stateNs = link.wireNs(state.bytes);
    const deviceParts = state.deviceStateNs === undefined ? {} : { deviceStateNs: state.deviceStateNs };
    ledger.sendState(state.bytes);
    const rest = costs.suspendNs + walkNs + stateNs + costs.resumeNs;
    clock.pauseAll(now, rest);
    const resumeAt = now + rest + finalOpNs;
    ledger.downtime = { suspendNs: costs.suspendNs, finalCleanNs, finalPagesNs: 0, canonicaliseNs: 0, stateNs, resumeNs: costs.resumeNs, ...deviceParts };
    ctx.run.emit(RunEventKind.resume, resumeAt, NO_VCPU, ledger.roundCount, 0, costs.resumeNs);
    const source = new PostcopySource(ctx, ledger, missing, {
      preempt: opts.postcopyPreempt ?? false,
      maxBandwidthBytesPerSec: opts.maxPostcopyBandwidthBytesPerSec,
      hostPagePages: hostPages,
      ...(opts.forgetPostcopyPages ? { forgetPages: opts.forgetPostcopyPages } : {}),
    });
    const postcopy = ctx.host.resumeForPostcopy(missing, source, hostPages);
    source.connect(postcopy);
    ledger.startRound(resumeAt);
    return { phase: new PostcopyPhase(ctx, ledger, postcopy, source), resumeAt };
  }

  /**
   * One step of the background push at `now`: returns when the next is
   * due, or undefined once the last page has arrived (the migration is
   * complete and the guest runs wholly on the destination).
   */
  push(now: number): number | undefined {
    const next = this.source.push(now);
    if (next !== undefined) return next;
    this.ledger.endRound(now, -1);
    this.checkDelivered(now);
    this.ledger.postcopy = {
      requests: this.source.requests,
      blocktimeNs: this.postcopy.blocktime.totalNs(),
      vcpuBlocktimeNs: Array.from(this.postcopy.blocktime.vcpuBlocktimeNs),
    };
    this.ledger.complete(now);
    this.ledger.endLive(now);
    this.ctx.host.resumeOnDestination();
    return undefined;
  }

  /**
   * The oracle of post-copy: every page the destination lacked at the
   * switch arrived, exactly once. A page never sent, or one the
   * destination still counts missing, is lost (a divergence event, a
   * failed run), as a page a tracker missed is at a stop-and-copy resume.
   */
  private checkDelivered(now: number): void {
    const stillMissing = this.postcopy.pagesMissing;
    const unsent = this.source.sentAll ? 0 : 1;
    const lost = Math.max(stillMissing, this.missingAtSwitch - this.source.delivered, unsent);
    if (lost === 0) return;
    this.ledger.lostPages += lost;
    const first: number[] = [];
    const bits = this.postcopy.missingBitmap;
    for (let p = 0; p < this.ctx.guest.memPages && first.length < 16; p++) if ((bits[p >>> 5]! & (1 << (p & 31))) !== 0) first.push(p);
    if (this.ledger.firstLostPfns.length === 0) this.ledger.firstLostPfns = first;
    for (const pfn of first) this.ctx.run.emit(RunEventKind.divergence, now, NO_VCPU, pfn, 0, 0);
  }
}

/** Sets every bit of each host page that has any bit set (postcopy_chunk_hostpages_pass). */
function wholeHostPages(bits: Uint32Array, hostPages: number, memPages: number): void {
  const wordsPerHost = hostPages >>> 5;
  for (let first = 0; first < memPages; first += hostPages) {
    const w0 = first >>> 5;
    let any = 0;
    for (let w = w0; w < w0 + wordsPerHost && w < bits.length; w++) any |= bits[w]!;
    if (any === 0) continue;
    for (let w = w0; w < w0 + wordsPerHost && w < bits.length; w++) bits[w] = 0xffffffff;
  }
  const tail = memPages & 31;
  if (tail) bits[bits.length - 1] = bits[bits.length - 1]! & ((1 << tail) - 1);
}
