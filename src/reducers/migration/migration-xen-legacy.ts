import { DEF_MAX_ITERS, LEGACY_MIN_PAGES } from './migration-options.js';
import { XenMigration } from './migration-xen.js';

/**
 * Xen's legacy save (tools/libxc/xc_domain_save.c, Xen up to 4.5): the same
 * batches of MAX_BATCH_SIZE (1024) pages, but a PEEK before each batch, and
 * a page already dirty again is skipped (the next CLEAN will report it).
 * After a pass it stops when iter >= DEF_MAX_ITERS (29), when fewer than 50
 * pages were sent or skipped in the round, or once more than DEF_MAX_FACTOR
 * (3) times the guest's memory has been sent; otherwise CLEAN and go on.
 */
export class XenLegacyMigration extends XenMigration {
  protected override skipBitmap(now: number): Uint32Array {
    return this.ctx.logDirty.peek(now);
  }

  protected override endPass(now: number): void {
    const maxIters = this.opts.maxIters ?? DEF_MAX_ITERS;
    const sentAndSkipped = this.ledger.pagesInRound + this.ledger.skippedInRound;
    let reason = '';
    if (this.pass >= maxIters) reason = `iteration limit reached (iter >= ${maxIters})`;
    else if (sentAndSkipped < LEGACY_MIN_PAGES) reason = `fewer than ${LEGACY_MIN_PAGES} pages sent or skipped in a round (${sentAndSkipped})`;
    else if (this.ledger.pagesSent > this.ctx.guest.memPages * this.opts.maxFactor) reason = `more than ${this.opts.maxFactor}x memory sent`;
    if (reason) {
      this.ledger.endRound(now, -1);
      this.switchOver(now, reason);
      return;
    }
    const { bits, dirty, endNs } = this.cleanAndWalk(now);
    this.nextPass(endNs, bits, dirty);
  }
}
