/**
 * Fixed-width wall-time buckets from an origin, for a report's timelines.
 * Buckets start at 100 us; when the events outrun them, adjacent buckets are
 * merged pairwise and the width doubles (the sums stay exact), so whatever
 * stretch is collected spans 64 to 128 buckets. Events before the origin,
 * or at or after a hard end once one is set, are not collected: the caller
 * counts them elsewhere (the overview strip has its own buckets from 0).
 */

/** How many buckets a timeline keeps at most (it merges pairs past that). */
export const MAX_TIMELINE_BUCKETS = 128;
const MIN_BUCKET_NS = 100_000;
/** Run-event kinds are codes below 32 (src/events/run-event-kind.ts). */
export const KIND_SLOTS = 32;

export class TimelineBuckets {
  bucketNs = MIN_BUCKET_NS;
  /** The latest time collected: where the drawn timeline may end. */
  lastNs: number;
  readonly pages = new Float64Array(MAX_TIMELINE_BUCKETS);
  readonly bytes = new Float64Array(MAX_TIMELINE_BUCKETS);
  readonly stall = new Float64Array(MAX_TIMELINE_BUCKETS);
  readonly faultWaitNs = new Float64Array(MAX_TIMELINE_BUCKETS);
  readonly exits = new Float64Array(MAX_TIMELINE_BUCKETS * KIND_SLOTS);
  private hardEndNs = Infinity;

  constructor(readonly originNs: number) {
    this.lastNs = originNs;
  }

  /** Nothing at or after `t` is collected from now on (a stretch with a known end). */
  endAt(t: number): void {
    if (t < this.hardEndNs) this.hardEndNs = t;
  }

  /** Widens the buckets so that the stretch up to `t` fits (a known end, before any event). */
  reach(t: number): void {
    if (t > this.originNs) this.slot(Math.min(t, this.hardEndNs) - 1);
  }

  /** The bucket of wall time `t`, widening as needed; -1 outside the collected stretch. */
  slot(t: number): number {
    if (t < this.originNs || t >= this.hardEndNs) return -1;
    if (t > this.lastNs) this.lastNs = t;
    const s = Math.floor((t - this.originNs) / this.bucketNs);
    return s < MAX_TIMELINE_BUCKETS ? s : this.widen(t);
  }

  /** `amount` of something spread evenly over [t, t + durNs) into `into`, clipped to the collected stretch. */
  spread(into: Float64Array, t: number, durNs: number, amount: number): void {
    if (durNs <= 0) {
      const s = this.slot(t);
      if (s >= 0) into[s] = into[s]! + amount;
      return;
    }
    const end = Math.min(t + durNs, this.hardEndNs);
    const from = Math.max(t, this.originNs);
    if (end <= from) return;
    this.slot(end - 1); // widen first, so the loop below sees final widths
    for (let a = from; a < end; ) {
      const s = Math.floor((a - this.originNs) / this.bucketNs);
      const b = Math.min(end, this.originNs + (s + 1) * this.bucketNs);
      into[s] = into[s]! + (amount * (b - a)) / durNs;
      a = b;
    }
  }

  /** Doubles the bucket width until wall time `t` fits; returns its bucket. */
  private widen(t: number): number {
    const half = MAX_TIMELINE_BUCKETS / 2;
    while (Math.floor((t - this.originNs) / this.bucketNs) >= MAX_TIMELINE_BUCKETS) {
      for (const a of [this.pages, this.bytes, this.stall, this.faultWaitNs]) {
        for (let s = 0; s < half; s++) a[s] = a[2 * s]! + a[2 * s + 1]!;
        a.fill(0, half);
      }
      const e = this.exits;
      for (let s = 0; s < half; s++) for (let k = 0; k < KIND_SLOTS; k++) e[s * KIND_SLOTS + k] = e[2 * s * KIND_SLOTS + k]! + e[(2 * s + 1) * KIND_SLOTS + k]!;
      e.fill(0, half * KIND_SLOTS);
      this.bucketNs *= 2;
    }
    return Math.floor((t - this.originNs) / this.bucketNs);
  }
}
