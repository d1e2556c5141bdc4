/**
 * Exact pacing at a fixed integer rate: the i-th event is at
 * floor(i * 1e9 / ratePerSec) ns. The time advances by the whole quotient
 * each step and carries the remainder, so no product grows with i and the
 * times stay exact integers however long the run (a float step would drift
 * and round differently across platforms).
 *
 * Workload loops call `advance` once per event: it allocates nothing.
 */
export class FixedRatePacer {
  /** Time of the current event. */
  nowNs = 0;
  private readonly stepNs: number;
  private readonly stepRemNs: number;
  private remNs = 0;

  /** `ratePerSec` must be a positive integer. */
  constructor(private readonly ratePerSec: number) {
    this.stepNs = Math.floor(1e9 / ratePerSec);
    this.stepRemNs = 1e9 % ratePerSec;
  }

  /** Moves to the next event's time. */
  advance(): void {
    this.nowNs += this.stepNs;
    this.remNs += this.stepRemNs;
    if (this.remNs >= this.ratePerSec) {
      this.remNs -= this.ratePerSec;
      this.nowNs++;
    }
  }
}
