/**
 * QEMU's dirty-limit (system/dirtylimit.c, docs/devel/migration/dirty-limit.rst):
 * the per-vCPU controller that makes a vCPU whose dirty ring filled sleep
 * before it re-enters the guest, the sleep tuned once a period so that its
 * dirty rate approaches the quota. Only vCPUs that dirty memory fill rings,
 * so only they sleep: a vCPU that reads is not slowed, unlike
 * auto-converge's CPU throttle, which stops every vCPU alike.
 *
 * The arithmetic is QEMU's, in its integer units (MB/s of 2^20 bytes, us):
 * - the rate of each vCPU over a period (x-vcpu-dirty-limit-period, 1000 ms)
 *   is the pages reaped from its ring in it (cpu->dirty_pages), as MiB,
 *   over the period (system/dirtyrate.c do_calculate_dirtyrate);
 * - dirtylimit_dirty_ring_full_time: the ring's size in MiB x 10^6 over the
 *   largest rate seen so far (a static in QEMU, never lowered);
 * - dirtylimit_adjust_throttle: nothing while |quota - current| <= 25 MB/s
 *   (DIRTYLIMIT_TOLERANCE_RANGE); a rate of 0 drops the sleep to 0;
 * - dirtylimit_set_throttle: an error over 50% of the larger
 *   (DIRTYLIMIT_LINEAR_ADJUSTMENT_PCT) moves the sleep by
 *   ring_full_time x pct / (100 - pct), pct the error as a whole percentage
 *   of the current rate (too fast) or of the quota (too slow); a smaller
 *   error by a tenth of the ring-full time; the sleep stays within 0 and
 *   99 x the ring-full time (DIRTYLIMIT_THROTTLE_PCT_MAX);
 * - dirtylimit_vcpu_execute: after each ring-full exit the vCPU sleeps
 *   throttle_us_per_full (g_usleep).
 */
export const DIRTY_LIMIT_PERIOD_NS = 1_000_000_000;
const TOLERANCE_MBPS = 25;
const LINEAR_ADJUSTMENT_PCT = 50;
const THROTTLE_PCT_MAX = 99;
const MIB = 1 << 20;
const PAGE_BYTES = 4096;

export class DirtyLimit {
  /** Each vCPU's sleep per ring-full exit, us (cpu->throttle_us_per_full). */
  readonly throttleUs: Float64Array;
  /** Each vCPU's rate over the last period, MB/s (vcpu_dirty_rate_get). */
  readonly rateMBps: Float64Array;
  /** The largest rate seen (dirtylimit_dirty_ring_full_time's static max_dirtyrate). */
  private maxRateMBps = 0;
  private readonly ringMiB: number;
  readonly quotaMBps: number;
  periods = 0;

  constructor(
    vcpus: number,
    ringEntries: number,
    quotaBytesPerSec: number,
    private readonly periodNs = DIRTY_LIMIT_PERIOD_NS,
  ) {
    this.throttleUs = new Float64Array(vcpus);
    this.rateMBps = new Float64Array(vcpus);
    // qemu_target_pages_to_MiB: whole MiB.
    this.ringMiB = Math.floor((ringEntries * PAGE_BYTES) / MIB);
    this.quotaMBps = Math.floor(quotaBytesPerSec / MIB);
  }

  /** One period's end: `pages[v]` reaped from vCPU v's ring during it; each vCPU's sleep adjusted. */
  endPeriod(pages: Int32Array): void {
    this.periods++;
    const periodMs = this.periodNs / 1e6;
    for (let v = 0; v < this.throttleUs.length; v++) {
      const current = Math.floor((Math.floor((pages[v]! * PAGE_BYTES) / MIB) * 1000) / periodMs);
      this.rateMBps[v] = current;
      this.adjust(v, current);
    }
  }

  private adjust(v: number, current: number): void {
    const quota = this.quotaMBps;
    if (Math.abs(quota - current) <= TOLERANCE_MBPS) return;
    if (current === 0) {
      this.throttleUs[v] = 0;
      return;
    }
    if (current > this.maxRateMBps) this.maxRateMBps = current;
    const ringFullUs = Math.floor((this.ringMiB * 1_000_000) / this.maxRateMBps);
    let t = this.throttleUs[v]!;
    const hi = Math.max(quota, current);
    if (Math.floor((Math.abs(quota - current) * 100) / hi) > LINEAR_ADJUSTMENT_PCT) {
      const pct = quota < current ? Math.floor(((current - quota) * 100) / current) : Math.floor(((quota - current) * 100) / quota);
      // QEMU computes this in double and adds it to an int64: truncated.
      const step = Math.trunc((ringFullUs * pct) / (100 - pct));
      t += quota < current ? step : -step;
    } else {
      const step = Math.floor(ringFullUs / 10);
      t += quota < current ? step : -step;
    }
    this.throttleUs[v] = Math.max(0, Math.min(t, ringFullUs * THROTTLE_PCT_MAX));
  }
}
