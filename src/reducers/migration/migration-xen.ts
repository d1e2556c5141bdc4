import { NO_VCPU } from '../../events/guest-event-kind.js';
import { RunEventKind } from '../../events/run-event-kind.js';
import { allSet, nextSetBit } from '../bitmap-scan.js';
import { countBits } from '../logdirty-bitmap.js';
import { bitmapWalkNs } from './bitmap-walk.js';
import { MigrationPolicy } from './migration-policy.js';
import { SPP_MAX_ITERATIONS, SPP_TARGET_DIRTY_COUNT, XEN_BATCH_PAGES } from './migration-options.js';
import { stopAndCopy } from './stop-and-copy.js';

/**
 * Xen's migration v2 (tools/libs/guest/xg_sr_save.c send_memory_live with
 * simple_precopy_policy): ENABLE log-dirty, a full pass over memory in
 * batches of up to MAX_BATCH_SIZE (1024) pages, then CLEAN and a pass over
 * the pages it reported, again and again. When a CLEAN reports fewer than
 * SPP_TARGET_DIRTY_COUNT (50) pages they are still sent live once more and
 * then the guest is suspended; at most SPP_MAX_ITERATIONS (5) passes. Then
 * suspend_and_send_dirty (stop-and-copy.ts).
 *
 * Every pass walks the whole bitmap (send_dirty_pages tests each pfn of the
 * p2m; send_all_pages sets every bit first), and after a CLEAN the thread
 * has waited for the hypercall: a pass starts with a `bitmap_sync` run event
 * whose cost is the CLEAN it waited for and the walk (bitmap-walk.ts), and
 * its first batch goes after it.
 *
 * The live passes are also the pre-copy of post-copy and of Remus, which
 * override what happens when they end (`switchOver`) and how many there are.
 */
export class XenMigration extends MigrationPolicy {
  protected toSend: Uint32Array = new Uint32Array(0);
  protected cursor = 0;
  protected pass = 0;
  private stopAfterPass = false;

  protected begin(now: number): void {
    const firstNs = this.enableLogDirty(now);
    this.toSend = allSet(this.ctx.guest.memPages);
    this.cursor = 0;
    this.pass = 1;
    this.ledger.startRound(firstNs);
    // send_all_pages: bitmap_set, then send_dirty_pages walks all of it.
    const walkNs = bitmapWalkNs(this.ctx);
    this.ctx.run.emit(RunEventKind.bitmapSync, firstNs, NO_VCPU, this.ledger.roundCount, 0, walkNs);
    this.schedule(firstNs + walkNs, () => this.sendBatch());
  }

  /** Live passes before the guest stops (or switches over). */
  protected maxPasses(): number {
    return this.opts.maxIters ?? SPP_MAX_ITERATIONS;
  }

  /** Whether a CLEAN with fewer than 50 dirty pages ends the live phase after one more pass. */
  protected stopsOnFewDirty(): boolean {
    return true;
  }

  /** xc_domain_save's PEEK before each batch (xen-legacy); migration v2 sends what it was given. */
  protected skipBitmap(_now: number): Uint32Array | undefined {
    return undefined;
  }

  /** One batch of a pass (up to 1024 pages), or the end of the pass. */
  private sendBatch(): void {
    const now = this.nextActionNs;
    const memPages = this.ctx.guest.memPages;
    const skip = this.skipBitmap(now);
    let pages = 0;
    let bytes = 0;
    let pfn = this.cursor;
    while (pages < XEN_BATCH_PAGES) {
      pfn = nextSetBit(this.toSend, pfn, memPages);
      if (pfn < 0) break;
      if (skip && (skip[pfn >>> 5]! & (1 << (pfn & 31))) !== 0) {
        this.ledger.skipPage();
        pfn++;
        continue;
      }
      bytes += this.ledger.sendPage(pfn);
      pages++;
      pfn++;
    }
    this.cursor = pfn < 0 ? memPages : pfn;
    if (pages === 0 && pfn < 0) {
      this.endPass(now);
      return;
    }
    const durationNs = this.ledger.transmit(now, pages, bytes);
    this.schedule(now + durationNs, () => this.sendBatch());
  }

  /** simple_precopy_policy, consulted after each pass. */
  protected endPass(now: number): void {
    const maxPasses = this.maxPasses();
    if (this.stopAfterPass) {
      this.ledger.endRound(now, -1);
      return this.switchOver(now, `a CLEAN reported fewer than ${SPP_TARGET_DIRTY_COUNT} dirty pages`);
    }
    if (this.pass >= maxPasses) {
      this.ledger.endRound(now, -1);
      return this.switchOver(now, this.passLimitReason(maxPasses));
    }
    const { bits, dirty, endNs } = this.cleanAndWalk(now);
    if (dirty < SPP_TARGET_DIRTY_COUNT && this.stopsOnFewDirty()) this.stopAfterPass = true;
    this.nextPass(endNs, bits, dirty);
  }

  /**
   * xc_logdirty_control(CLEAN), which the toolstack waits for, and the walk
   * of the bitmap it returned that the next pass makes (send_dirty_pages):
   * a `bitmap_sync` run event of the round that ends, costing both. Returns
   * the bitmap, its dirty pages and when the thread is free again.
   */
  protected cleanAndWalk(now: number): { bits: Uint32Array; dirty: number; endNs: number } {
    const clock = this.ctx.clock;
    const pausedBefore = clock.domainPausedNs;
    const bits = this.ctx.logDirty.clean(now);
    const costNs = clock.domainPausedNs - pausedBefore + this.ctx.logDirty.opThreadNs + bitmapWalkNs(this.ctx);
    const dirty = countBits(bits);
    this.ctx.run.emit(RunEventKind.bitmapSync, now, NO_VCPU, this.ledger.roundCount, dirty, costNs);
    return { bits, dirty, endNs: now + costNs };
  }

  protected passLimitReason(maxPasses: number): string {
    return `live pass limit reached (${maxPasses})`;
  }

  /** The CLEAN's pages become the next pass. */
  protected nextPass(now: number, bits: Uint32Array, dirty = countBits(bits)): void {
    this.ledger.endRound(now, dirty);
    this.toSend = bits;
    this.cursor = 0;
    this.pass++;
    this.ledger.startRound(now);
    this.schedule(now, () => this.sendBatch());
  }

  /** The live phase is over: stop and copy, and the guest runs on the destination. */
  protected switchOver(now: number, reason: string): void {
    stopAndCopy(this.ctx, this.ledger, now, reason, { skipCanonicalise: this.opts.skipCanonicalise, device: this.opts });
    this.resumed();
  }

  /** After a stop-and-copy: the guest runs on the destination, untracked. */
  protected resumed(): void {
    this.ctx.clock.setThrottle(0, this.ctx.clock.nowNs);
    this.ctx.host.resumeOnDestination();
    this.done();
  }
}
