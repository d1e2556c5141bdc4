import { NO_VCPU } from '../../events/guest-event-kind.js';
import { RunEventKind } from '../../events/run-event-kind.js';
import { nextSetBit } from '../bitmap-scan.js';
import { bitmapWalkNs } from './bitmap-walk.js';
import { XenMigration } from './migration-xen.js';
import { stopAndCopy } from './stop-and-copy.js';

/**
 * Remus (Cully et al., NSDI 2008; `xl remus`, default interval 200 ms): an
 * initial migration as Xen's, then continuous checkpoints. Each epoch
 * suspends the primary, takes the FINAL CLEAN, copies the dirty pages into
 * a staging buffer and resumes; the buffer is sent while the guest runs.
 * The next epoch starts an interval after the buffer has gone, as libxl's.
 */
export class RemusMigration extends XenMigration {
  override finish(wallNs: number): void {
    if (this.ledger.outcome === 'completed') {
      // Checkpointing goes on as long as the guest runs: the live phase and
      // the migration end with it.
      this.ledger.endLive(wallNs);
      this.ledger.completedAtNs = Math.max(this.ledger.completedAtNs, wallNs);
      // Under `loop`, checkpointing ran on past the capture to the run's end.
      this.noteLoopedPast(wallNs);
      this.done();
      return;
    }
    super.finish(wallNs);
  }

  protected override switchOver(now: number, reason: string): void {
    const resumeAt = stopAndCopy(this.ctx, this.ledger, now, reason, { skipCanonicalise: this.opts.skipCanonicalise, device: this.opts });
    this.schedule(resumeAt + this.opts.epochNs, () => this.epoch());
  }

  /** One checkpoint: suspend, FINAL CLEAN, copy dirty pages to a buffer, resume; send in the background. */
  private epoch(): void {
    const now = this.nextActionNs;
    const { ctx, ledger } = this;
    const { costs, clock } = ctx;
    const memPages = ctx.guest.memPages;
    const before = clock.domainPausedNs;
    const bits = ctx.logDirty.final(now + costs.suspendNs);
    const cleanNs = clock.domainPausedNs - before;
    let pages = 0;
    let bytes = 0;
    for (let pfn = nextSetBit(bits, 0, memPages); pfn >= 0; pfn = nextSetBit(bits, pfn + 1, memPages)) {
      bytes += ledger.sendPage(pfn);
      pages++;
    }
    // Cully et al.: the primary is paused only to copy the dirty pages
    // into a staging buffer; they are transmitted while it runs again.
    // Finding them is a walk of the whole bitmap while it is paused
    // (suspend_and_send_dirty -> send_dirty_pages, bitmap-walk.ts).
    const pauseNs = 2 * costs.suspendNs + bitmapWalkNs(ctx) + pages * costs.checkpointCopyPerPageNs;
    clock.pauseAll(now, pauseNs);
    ledger.checkOracle(now);
    const epoch = ledger.epochs.length;
    ledger.epochs.push({ atNs: now, bytesSent: bytes });
    ctx.run.emit(RunEventKind.checkpointEpoch, now, NO_VCPU, epoch, pages, pauseNs + cleanNs);
    const sendNs = ctx.link.wireNs(bytes);
    // libxl arms the interval timer once a checkpoint is committed at the
    // backup (tools/libs/light/libxl_remus.c, remus_devices_commit_cb: "let
    // the guest continue execution" until then), so the guest runs a whole
    // interval between checkpoints. Counting the interval from the
    // checkpoint's start instead let a pause as long as the interval starve
    // the guest: no guest time passed, and the run never ended.
    this.schedule(now + pauseNs + cleanNs + sendNs + this.opts.epochNs, () => this.epoch());
  }
}
