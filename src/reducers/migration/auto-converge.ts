import { NO_VCPU } from '../../events/guest-event-kind.js';
import { RunEventKind } from '../../events/run-event-kind.js';
import type { MigrationContext } from './migration-context.js';
import { type MigrationOptions, THROTTLE_PERIOD_NS, THROTTLE_TRIGGER_PCT } from './migration-options.js';

const PAGE_BYTES = 4096;

/**
 * QEMU's auto-converge (migration/ram.c migration_trigger_throttle and
 * mig_throttle_guest_down, system/cpu-throttle.c cpu_throttle_set): at a
 * bitmap sync at least a period (1 s) after the last check, if the bytes
 * dirtied in the period exceed THROTTLE_TRIGGER_PCT (50%) of the bytes sent
 * in it, twice in a row, the vCPUs are throttled: cpu-throttle-initial
 * the first time, then cpu-throttle-increment more, at most
 * max-cpu-throttle. With cpu-throttle-tailslow the step is at most what
 * would bring the guest's CPU share to the one that matches the threshold:
 * cpu_now x threshold / dirtied, in whole percent. The throttle itself is
 * the vCPU clock's (vcpu-clock.ts, cpu-throttle.ts).
 *
 * With the dirty-limit capability instead (auto-converge off), the same
 * trigger puts the vCPUs under dirty-limit (migration_trigger_throttle ->
 * migration_dirty_limit_guest): `onDirtyLimit` is called, once.
 */
export class AutoConverge {
  private pct = 0;
  private periodStartNs: number;
  private periodDirtyPages = 0;
  private periodBytes = 0;
  private dirtyRateHighCount = 0;

  constructor(
    private readonly ctx: MigrationContext,
    private readonly opts: MigrationOptions,
    startNs: number,
    private readonly onDirtyLimit?: (now: number) => void,
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
    const thresholdBytes = Math.floor((this.periodBytes * THROTTLE_TRIGGER_PCT) / 100);
    if (dirtyBytes > thresholdBytes) {
      if (++this.dirtyRateHighCount >= 2) {
        this.dirtyRateHighCount = 0;
        if (this.onDirtyLimit) this.onDirtyLimit(now);
        else {
          const pct = this.nextPct(dirtyBytes, thresholdBytes);
          this.pct = pct;
          this.ctx.clock.setThrottle(pct, now);
          this.ctx.run.emit(RunEventKind.throttle, now, NO_VCPU, -1, pct, 0);
        }
      }
    }
    this.periodStartNs = now;
    this.periodDirtyPages = 0;
    this.periodBytes = 0;
  }

  /** mig_throttle_guest_down: the first step, or the next one (tail-slow: no further than the threshold asks). */
  private nextPct(dirtyBytes: number, thresholdBytes: number): number {
    const o = this.opts;
    if (this.pct === 0) return Math.min(o.throttleInitialPct, o.maxThrottlePct);
    let inc = o.throttleIncrementPct;
    if (o.throttleTailslow) {
      const cpuNow = 100 - this.pct;
      const cpuIdeal = Math.floor((cpuNow * thresholdBytes) / dirtyBytes);
      inc = Math.min(cpuNow - cpuIdeal, inc);
    }
    return Math.min(this.pct + inc, o.maxThrottlePct);
  }
}
