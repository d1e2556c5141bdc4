import type { ZeroPageRule } from './migration-ledger.js';
import { XenMigration } from './migration-xen.js';
import { PostcopyPhase } from './postcopy-phase.js';

/**
 * Post-copy (QEMU's postcopy-ram.c, docs/devel/migration/postcopy.rst):
 * pre-copy passes as Xen's (`postcopyAfterPasses`, default one full pass),
 * then the switch and the background push (postcopy-phase.ts, which QEMU's
 * pre-copy shares when told to switch): suspend, the final CLEAN says which
 * pages are stale on the destination, vCPU and device state move, and the
 * guest resumes there at once; a first access to a page still missing
 * faults and waits for it, while the source pushes the rest at link speed.
 * The migration completes with the last page.
 */
export class PostcopyMigration extends XenMigration {
  /** QEMU sends a zero page as a flag in its header (ram.c save_zero_page). */
  protected override zeroPageRule(): ZeroPageRule {
    return 'flag';
  }

  protected override maxPasses(): number {
    return this.opts.postcopyAfterPasses;
  }

  protected override stopsOnFewDirty(): boolean {
    return false;
  }

  protected override passLimitReason(maxPasses: number): string {
    return `switched to post-copy after ${maxPasses} live pass(es)`;
  }

  protected override switchOver(now: number, reason: string): void {
    const { phase, resumeAt } = PostcopyPhase.switchOver(this.ctx, this.ledger, this.opts, now, reason);
    this.runPostcopy(phase, resumeAt);
  }
}
