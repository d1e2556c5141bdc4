import { NO_VCPU } from '../../events/guest-event-kind.js';
import { RunEventKind } from '../../events/run-event-kind.js';
import { nextSetBit } from '../bitmap-scan.js';
import { countBits } from '../logdirty-bitmap.js';
import type { PostcopyTracker } from '../tracker-postcopy.js';
import { XEN_BATCH_PAGES } from './migration-options.js';
import type { ZeroPageRule } from './migration-ledger.js';
import { XenMigration } from './migration-xen.js';

const PAGE_BYTES = 4096;

/**
 * Post-copy (QEMU's postcopy-ram.c, docs/devel/migration/postcopy.rst):
 * pre-copy passes as Xen's (`postcopyAfterPasses`, default one full pass),
 * then the switch: suspend, the final CLEAN says which pages are stale on
 * the destination, vCPU and device state move, and the guest resumes there
 * at once. A first access to a page still missing faults and waits for it
 * (tracker-postcopy.ts); meanwhile the source pushes the rest in the
 * background at link speed. The migration completes with the last page.
 */
export class PostcopyMigration extends XenMigration {
  /** QEMU sends a zero page as a flag in its header (ram.c save_zero_page). */
  protected override zeroPageRule(): ZeroPageRule {
    return 'flag';
  }

  private postcopy: PostcopyTracker | undefined;

  protected override maxPasses(): number {
    return this.opts.postcopyAfterPasses;
  }

  protected override stopsOnFewDirty(): boolean {
    return false;
  }

  protected override passLimitReason(maxPasses: number): string {
    return `switched to post-copy after ${maxPasses} live pass(es)`;
  }

  override finish(wallNs: number): void {
    // The push needs no guest events: it runs to its end.
    if (this.postcopy) {
      while (this.nextActionNs !== Infinity) this.act();
      return;
    }
    super.finish(wallNs);
  }

  protected override switchOver(now: number, reason: string): void {
    const { ctx, ledger } = this;
    const { costs, clock, link, oracle } = ctx;
    ledger.stopReason = reason;
    ledger.suspendAtNs = now;
    ctx.run.emit(RunEventKind.suspend, now, NO_VCPU, ledger.roundCount, 0, costs.suspendNs);
    const before = clock.domainPausedNs;
    const bits = ctx.logDirty.final(now + costs.suspendNs);
    const finalCleanNs = clock.domainPausedNs - before;
    // Pages dirty since the last CLEAN are stale on the destination: every
    // other page must already be current there. From here on the
    // destination is authoritative: the missing pages are fetched with the
    // contents they had at the switch.
    const missing = bits.slice();
    ledger.switchDirtyPages = countBits(missing);
    const lost = oracle.switchToDestination(missing);
    ledger.lostPages = lost.count;
    ledger.firstLostPfns = lost.first;
    const stateBytes = ctx.guest.vcpus * costs.vcpuStateBytes + costs.deviceStateBytes;
    const stateNs = link.wireNs(stateBytes);
    ledger.sendState(stateBytes);
    const rest = costs.suspendNs + stateNs + costs.resumeNs;
    clock.pauseAll(now, rest);
    const resumeAt = now + rest + finalCleanNs;
    ledger.downtime = { suspendNs: costs.suspendNs, finalCleanNs, finalPagesNs: 0, canonicaliseNs: 0, stateNs, resumeNs: costs.resumeNs };
    ctx.run.emit(RunEventKind.resume, resumeAt, NO_VCPU, ledger.roundCount, 0, costs.resumeNs);
    const pageNs = link.wireNs(PAGE_BYTES + costs.pageHeaderBytes);
    this.postcopy = ctx.host.resumeForPostcopy(missing, costs.postcopyRequestRttNs + pageNs);
    this.cursor = 0;
    ledger.startRound(resumeAt);
    this.schedule(resumeAt, () => this.push());
  }

  /** The source pushes the missing pages in the background at link speed. */
  private push(): void {
    const now = this.nextActionNs;
    const pc = this.postcopy!;
    const memPages = this.ctx.guest.memPages;
    let pages = 0;
    let bytes = 0;
    let pfn = this.cursor;
    while (pages < XEN_BATCH_PAGES) {
      pfn = nextSetBit(pc.missingBitmap, pfn, memPages);
      if (pfn < 0) break;
      pc.received(pfn);
      bytes += this.ledger.wirePageBytes(pfn);
      pages++;
      pfn++;
    }
    this.cursor = pfn < 0 ? memPages : pfn;
    if (pages === 0) {
      this.ledger.endRound(now, -1);
      this.ledger.complete(now);
      this.ledger.endLive(now);
      this.ctx.host.resumeOnDestination();
      this.postcopy = undefined;
      this.done();
      return;
    }
    this.ledger.pushPages(pages, bytes);
    const durationNs = this.ledger.transmit(now, pages, bytes);
    this.schedule(now + durationNs, () => this.push());
  }
}
