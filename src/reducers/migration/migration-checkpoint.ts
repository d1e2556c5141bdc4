import { MigrationPolicy } from './migration-policy.js';
import { stopAndCopy } from './stop-and-copy.js';

/**
 * A non-live checkpoint (`xm save`, then restore; seeds 000 and 001): the
 * guest is paused for the whole save, every page is sent, and it is
 * restored onto new machine frames (PV page tables canonicalised on the
 * way). No log-dirty: a PV guest in direct mode can be saved this way.
 */
export class CheckpointMigration extends MigrationPolicy {
  protected begin(now: number): void {
    stopAndCopy(this.ctx, this.ledger, now, 'checkpoint: the guest is paused for the whole save', { wholeMemory: true, skipCanonicalise: this.opts.skipCanonicalise, device: this.opts });
    this.ctx.clock.setThrottle(0, this.ctx.clock.nowNs);
    this.ctx.host.resumeOnDestination();
    this.done();
  }
}
