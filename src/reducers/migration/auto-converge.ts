import { NO_VCPU } from '../../events/guest-event-kind.js';
import { RunEventKind } from '../../events/run-event-kind.js';
import type { MigrationContext } from './migration-context.js';
import { THROTTLE_INCREMENT_PCT, THROTTLE_INITIAL_PCT, THROTTLE_MAX_PCT, THROTTLE_PERIOD_NS, THROTTLE_TRIGGER_PCT } from './migration-options.js';

const PAGE_BYTES = 4096;

/**
 * QEMU's auto-converge (migration/ram.c migration_trigger_throttle and
 * mig_throttle_guest_down, softmmu/cpu-throttle.c cpu_throttle_set): at a
 * bitmap sync at least a period (1 s) after the last check, if the bytes
 * dirtied in the period exceed THROTTLE_TRIGGER_PCT (50%) of the bytes sent
 * in it, twice in a row, the vCPUs are throttled: cpu-throttle-initial
 * (20%) the first time, then cpu-throttle-increment (10%) more, at most 99%.
 * The throttle itself is the vCPU clock's (vcpu-clock.ts).
 */
export class AutoConverge {
  private pct = 0;
  private periodStartNs: number;
  private periodDirtyPages = 0;
  private periodBytes = 0;
  private dirtyRateHighCount = 0;

  constructor(
    private readonly ctx: MigrationContext,
    startNs: number,
  ) {
    this.periodStartNs = startNs;
  }

  /** Bytes sent live count towards the period. */
  sent(bytes: number): void {
    this.periodBytes += bytes;
  }

  /** Pages a bitmap sync reported dirty count towards the period. */
  dirtied(pages: number): void {
    this.periodDirtyPages += pages;
  }

  /** migration_trigger_throttle, called after each bitmap sync. */
  check(now: number): void {
    if (now - this.periodStartNs < THROTTLE_PERIOD_NS) return;
    const dirtyBytes = this.periodDirtyPages * PAGE_BYTES;
    if (dirtyBytes * 100 > this.periodBytes * THROTTLE_TRIGGER_PCT) {
      if (++this.dirtyRateHighCount >= 2) {
        this.dirtyRateHighCount = 0;
        const pct = this.pct === 0 ? THROTTLE_INITIAL_PCT : Math.min(THROTTLE_MAX_PCT, this.pct + THROTTLE_INCREMENT_PCT);
        this.pct = pct;
        this.ctx.clock.setThrottle(pct);
        this.ctx.run.emit(RunEventKind.throttle, now, NO_VCPU, -1, pct, 0);
      }
    }
    this.periodStartNs = now;
    this.periodDirtyPages = 0;
    this.periodBytes = 0;
  }
}
