import { NO_VCPU } from '../../events/guest-event-kind.js';
import { RunEventKind } from '../../events/run-event-kind.js';
import { nextSetBit, orInto } from '../bitmap-scan.js';
import { countBits } from '../logdirty-bitmap.js';
import type { PostcopyTracker } from '../tracker-postcopy.js';
import { bitmapWalkNs } from './bitmap-walk.js';
import type { MigrationContext } from './migration-context.js';
import type { MigrationLedger } from './migration-ledger.js';
import { XEN_BATCH_PAGES } from './migration-options.js';

const PAGE_BYTES = 4096;

/**
 * Post-copy's second half, shared by the `postcopy` policy (which switches
 * after its live passes) and QEMU's pre-copy when told to switch
 * (migrate-start-postcopy: migration.c postcopy_start, called from
 * migration_iteration_run once start_postcopy is set). The switch: suspend,
 * the final CLEAN says which pages are stale on the destination (with
 * `pending`, pages the source had still to send: QEMU's bitmap), vCPU and
 * device state move, and the guest resumes there at once. A first access
 * to a page still missing faults and waits for it (tracker-postcopy.ts);
 * meanwhile the source pushes the rest in the background at link speed
 * (postcopy-ram.c, docs/devel/migration/postcopy.rst). The migration
 * completes with the last page.
 */
export class PostcopyPhase {
  private cursor = 0;

  private constructor(
    private readonly ctx: MigrationContext,
    private readonly ledger: MigrationLedger,
    private readonly postcopy: PostcopyTracker,
  ) {}

  /** The switch at `now`; returns the phase and the wall time the guest resumes on the destination (the push starts then). */
  static switchOver(ctx: MigrationContext, ledger: MigrationLedger, now: number, reason: string, pending?: Uint32Array): { phase: PostcopyPhase; resumeAt: number } {
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
    const lost = oracle.switchToDestination(missing);
    ledger.lostPages = lost.count;
    ledger.firstLostPfns = lost.first;
    const stateBytes = ctx.guest.vcpus * costs.vcpuStateBytes + costs.deviceStateBytes;
    const stateNs = link.wireNs(stateBytes);
    ledger.sendState(stateBytes);
    const rest = costs.suspendNs + walkNs + stateNs + costs.resumeNs;
    clock.pauseAll(now, rest);
    const resumeAt = now + rest + finalOpNs;
    ledger.downtime = { suspendNs: costs.suspendNs, finalCleanNs, finalPagesNs: 0, canonicaliseNs: 0, stateNs, resumeNs: costs.resumeNs };
    ctx.run.emit(RunEventKind.resume, resumeAt, NO_VCPU, ledger.roundCount, 0, costs.resumeNs);
    const pageNs = link.wireNs(PAGE_BYTES + costs.pageHeaderBytes);
    const postcopy = ctx.host.resumeForPostcopy(missing, costs.postcopyRequestRttNs + pageNs);
    ledger.startRound(resumeAt);
    return { phase: new PostcopyPhase(ctx, ledger, postcopy), resumeAt };
  }

  /**
   * One batch of the background push at `now`: returns when the next is
   * due, or undefined once the last page has arrived (the migration is
   * complete and the guest runs wholly on the destination).
   */
  push(now: number): number | undefined {
    const pc = this.postcopy;
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
      return undefined;
    }
    this.ledger.pushPages(pages, bytes);
    return now + this.ledger.transmit(now, pages, bytes);
  }
}
