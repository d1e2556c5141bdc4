import type { ShadowOos } from './shadow-oos.js';
import type { ShadowWalk } from './shadow-walk.js';

/**
 * Blowing the shadow tables, and what it costs the domain
 * (xen/arch/x86/mm/shadow/common.c shadow_blow_tables, called by
 * sh_enable_log_dirty and sh_clean_dirty_bitmap; shadow_teardown when a PV
 * guest leaves shadow mode at OFF). These run inside paging_log_dirty_op's
 * domain_pause, so each page freed (shadowBlowPerPageNs, per shadow
 * shadowPagesPerTable of them) lengthens the pause of the operation that
 * freed it: the cost waits here until that pause is charged.
 */
export class ShadowBlow {
  private blows = 0;
  private blownShadows = 0;
  private blowNs = 0;
  private pendingPauseNs = 0;

  constructor(private readonly freeCostPerShadowNs: number) {}

  /** ENABLE (HVM) and CLEAN: every shadow freed but the top-level ones in a CR3 (shadow-walk.ts), out-of-sync L1s dropped first. */
  blowAll(walk: ShadowWalk, oos: ShadowOos | undefined): void {
    oos?.dropAll();
    this.freed(walk.blowAll());
  }

  /** OFF for a PV guest: it leaves shadow mode, and every shadow is freed. */
  teardown(walk: ShadowWalk): void {
    this.freed(walk.teardown());
  }

  /** The freeing cost the next domain pause takes on (then none is left). */
  takePauseNs(): number {
    const ns = this.pendingPauseNs;
    this.pendingPauseNs = 0;
    return ns;
  }

  /** As the run's tracker stats name them. */
  stats(): Record<string, number> {
    return { shadowBlows: this.blows, shadowsBlown: this.blownShadows, shadowBlowNs: this.blowNs };
  }

  private freed(shadows: number): void {
    const ns = shadows * this.freeCostPerShadowNs;
    this.blows++;
    this.blownShadows += shadows;
    this.blowNs += ns;
    this.pendingPauseNs += ns;
  }
}
