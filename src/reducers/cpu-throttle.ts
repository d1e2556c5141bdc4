/**
 * QEMU's vCPU throttle in wall time (system/cpu-throttle.c; softmmu/ in
 * older trees): cpu_throttle_timer_tick fires on QEMU_CLOCK_VIRTUAL_RT and
 * queues cpu_throttle_thread on every vCPU, which sleeps
 * pct / (1 - pct) x CPU_THROTTLE_TIMESLICE_NS (10 ms; the code adds 1 ns
 * against double rounding); the next tick is TIMESLICE / (1 - pct) later.
 * So from each tick a vCPU sleeps S, then may run the rest of the period P:
 * 10 ms of every P whatever the percentage. cpu_throttle_set starts the
 * ticks at once when the throttle was off; when it was on, only the
 * percentage changes, and the next tick, already due, uses it. Stopping
 * takes effect at the next tick (cpu_throttle_stop sets 0 and the tick
 * returns).
 *
 * A busy vCPU loses the sleeps that fall into its work; an idle one loses
 * nothing, but an event that falls into a sleep waits for its end (the
 * vCPU thread is asleep in QEMU, not in the guest): see VcpuClock.
 *
 * The schedule is kept as segments of equal ticks, so that where an
 * instant falls is a lookup, not a walk over every tick since the start.
 */
const TIMESLICE_NS = 10_000_000;

interface Segment {
  /** The first tick of the segment. */
  readonly startNs: number;
  /** Tick period and sleep per tick (0 and Infinity-free: a stopped throttle has sleepNs 0). */
  readonly periodNs: number;
  readonly sleepNs: number;
}

export class CpuThrottle {
  private readonly segments: Segment[] = [];
  private pct = 0;

  get percent(): number {
    return this.pct;
  }

  /** cpu_throttle_set (1 to 99) or cpu_throttle_stop (0), at wall time `atNs`. */
  set(pct: number, atNs: number): void {
    const p = Math.max(0, Math.min(99, Math.round(pct)));
    if (p === this.pct) return;
    const was = this.pct;
    this.pct = p;
    // Integer nanoseconds: QEMU's doubles truncated the same way.
    const periodNs = p === 0 ? TIMESLICE_NS : Math.floor((TIMESLICE_NS * 100) / (100 - p));
    const sleepNs = p === 0 ? 0 : Math.floor((TIMESLICE_NS * p) / (100 - p)) + 1;
    const startNs = was === 0 ? atNs : this.nextTickAtOrAfter(atNs);
    // A change before the previous one's first tick replaces it.
    while (this.segments.length > 0 && this.segments[this.segments.length - 1]!.startNs >= startNs) this.segments.pop();
    this.segments.push({ startNs, periodNs, sleepNs });
  }

  /**
   * The wall time at which `busyNs` of running, started at `fromNs`, is
   * done: sleeps that fall in between are skipped over.
   */
  runFor(fromNs: number, busyNs: number): number {
    // No work: the vCPU is where its last event left it, running.
    if (busyNs <= 0) return fromNs;
    let t = fromNs;
    let left = busyNs;
    // A sleep the vCPU is in when it would start waits first.
    t = this.afterSleep(t);
    while (left > 0) {
      const next = this.nextSleepAfter(t);
      if (next === undefined || t + left <= next.startNs) return t + left;
      left -= next.startNs - t;
      t = next.startNs + next.sleepNs;
    }
    return t;
  }

  /** `atNs`, or the end of the sleep it falls in. */
  afterSleep(atNs: number): number {
    const s = this.segmentAt(atNs);
    if (!s || s.sleepNs === 0) return atNs;
    const into = (atNs - s.startNs) % s.periodNs;
    return into < s.sleepNs ? atNs - into + s.sleepNs : atNs;
  }

  /** The first sleep that starts after `atNs` (not one `atNs` is in). */
  private nextSleepAfter(atNs: number): { startNs: number; sleepNs: number } | undefined {
    const segs = this.segments;
    for (let i = this.indexAt(atNs); i < segs.length; i++) {
      const s = i >= 0 ? segs[i]! : undefined;
      const end = i + 1 < segs.length ? segs[i + 1]!.startNs : Infinity;
      if (s && s.sleepNs > 0) {
        const k = atNs < s.startNs ? 0 : Math.floor((atNs - s.startNs) / s.periodNs) + 1;
        const tick = s.startNs + k * s.periodNs;
        if (tick < end) return { startNs: tick, sleepNs: s.sleepNs };
      }
    }
    return undefined;
  }

  private nextTickAtOrAfter(atNs: number): number {
    const s = this.segmentAt(atNs)!;
    const k = Math.ceil((atNs - s.startNs) / s.periodNs);
    return s.startNs + k * s.periodNs;
  }

  private segmentAt(atNs: number): Segment | undefined {
    const i = this.indexAt(atNs);
    return i >= 0 ? this.segments[i] : undefined;
  }

  /** Index of the last segment that starts at or before `atNs` (-1: none). */
  private indexAt(atNs: number): number {
    const segs = this.segments;
    let i = segs.length - 1;
    while (i >= 0 && segs[i]!.startNs > atNs) i--;
    return i;
  }
}
