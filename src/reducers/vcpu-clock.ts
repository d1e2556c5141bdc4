import type { GuestBatch } from '../events/guest-batch.js';
import { GuestEventKind, NO_VCPU } from '../events/guest-event-kind.js';
import { CpuThrottle } from './cpu-throttle.js';

/** What wallNs and throttledWallNs return for an event that waits: its wall time reaches the toolstack's next action. */
export const WAITS = -1;

/**
 * Guest time to wall time, per vCPU (DESIGN section 4). Every exit, fault,
 * emulation or pause a vCPU takes stalls it, so its later events happen
 * that much later in wall time: wall = guest time + accumulated stall. This
 * is how tracking overhead slows the guest and, with it, its dirtying rate.
 *
 * A domain-wide pause (CLEAN, suspend) stalls every busy vCPU by its length;
 * a vCPU that is idle (after an `idle` event, until its next event) loses
 * nothing unless the pause outlasts its idle time, as on real hardware: an
 * event of it due within the pause waits for its end, one due before the
 * pause began is not held.
 *
 * A CPU throttle (QEMU's auto-converge, cpu_throttle_set) puts every vCPU
 * thread to sleep for pct/(1-pct) x 10 ms at each tick of a timer, one
 * tick every 10 ms/(1-pct) of wall time (cpu-throttle.ts): a vCPU runs
 * 10 ms of each period. Busy time that a sleep interrupts is lost for good
 * (the stall grows by it); a vCPU that is idle loses nothing, but an event
 * that falls into a sleep waits for its end without shifting the events
 * after it (the guest's clock ran on while its thread slept, so a paced
 * program catches up), as real QEMU showed: a writer using under 1% of a
 * CPU kept its rate up to a 90% throttle. The time sleeps take from busy
 * work is counted in throttleStolenNs, not in the stall (exits and
 * pauses); a vCPU's lag behind g + stall carries in its last event's wall
 * time until the throttle stops.
 *
 * The rule for one event of a vCPU at guest time g, unthrottled, in this
 * order (integer nanoseconds throughout, so every sum is exact):
 * - wall = g + stallNs, raised to notBeforeNs if below it;
 * - if wall reaches the toolstack's next action, the event waits;
 * - otherwise stallNs = wall - g, lastGuestNs = g, idle = (event is idle),
 *   latestNs = max(latestNs, wall). Unthrottled, the loops note the event's
 *   index in lastEventAt instead of the last two, and settle when they stop.
 * An event of no vCPU (a device) happens at max(g, latestNs).
 * Throttled (throttledWallNs), a busy vCPU's work since its last event runs
 * from that event's wall time, skipping sleeps (their time is added to its
 * stall); an idle vCPU's event is at g + stallNs, not before its last
 * event, moved past a sleep it falls in; a pause then holds it as above.
 *
 * wallNs and throttledWallNs below are the rule: Tracker.process calls them
 * for every event. The EPT loop (runUnderEpt in ept-run.ts) and shadow's
 * loop (ShadowTracker.processShadow) write the unthrottled rule out over
 * locals, for speed (runUnderEpt's comment says what the call cost there);
 * test/reducers/ept-loop.test.ts and shadow-loop.test.ts hold each to the
 * reference path's run events, byte for byte.
 */
export class VcpuClock {
  /** Wall minus guest time at each vCPU's last event. */
  readonly stallNs: Float64Array;
  /** Earliest wall time of a vCPU's next event (set by pauses while idle). */
  readonly notBeforeNs: Float64Array;
  /**
   * Wall time the pause behind notBeforeNs began: an event of the vCPU due
   * before it ran before the pause, and is not held (the loops take events
   * in guest-time order, so a vCPU whose wall clock is behind the
   * toolstack's can meet a pause that came after its event).
   */
  readonly pausedFromNs: Float64Array;
  /**
   * The largest notBeforeNs: an event whose wall time is already past it
   * needs no look at its vCPU's own (the loops' common case, once a pause
   * is over).
   */
  declare notBeforeMaxNs: number;
  /** 1 while the vCPU is idle: its last event was `idle`. */
  readonly idle: Uint8Array;
  /** Guest time of each vCPU's last event (the throttle's debt runs from there). */
  readonly lastGuestNs: Float64Array;
  /** The latest wall time seen. */
  declare latestNs: number;
  /** Busy time the throttle has taken from the vCPUs, all together. */
  declare throttleStolenNs: number;
  /** The same, per vCPU. */
  readonly throttleStolenNsByVcpu: Float64Array;
  private declare pausedNs: number;
  /** The event kinds of the batch an unthrottled loop runs over, until it settles (idleNow). */
  private loopKinds: Uint8Array | undefined;
  /**
   * Unthrottled loops store, per vCPU, the index of its last event in the
   * events they ran (-1: none), for settle; -1 for every vCPU between loops.
   */
  readonly lastEventAt: Int32Array;
  private readonly throttle = new CpuThrottle();
  /** Throttled: each vCPU's last event's wall time, and its stall then (exits charged since come on top). */
  private readonly lastWallNs: Float64Array;
  private readonly stallAtLastNs: Float64Array;

  constructor(readonly vcpus: number) {
    if (vcpus >= NO_VCPU) throw new RangeError(`${vcpus} vCPUs: ids must stay below NO_VCPU (${NO_VCPU})`);
    this.stallNs = new Float64Array(vcpus);
    this.notBeforeNs = new Float64Array(vcpus);
    this.pausedFromNs = new Float64Array(vcpus);
    this.idle = new Uint8Array(vcpus);
    this.lastGuestNs = new Float64Array(vcpus);
    this.lastEventAt = new Int32Array(vcpus).fill(-1);
    this.lastWallNs = new Float64Array(vcpus);
    this.stallAtLastNs = new Float64Array(vcpus);
    this.throttleStolenNsByVcpu = new Float64Array(vcpus);
    // These hold wall times, which pass 2^31 ns (2.1 s) early in a run. V8
    // gives a field the representation of its first value: from a small
    // integer, the first value past that range turns the field into a
    // double, which deprecates the clock's map and deoptimizes the loops
    // compiled against it; where two simulations share a thread (compare),
    // the EPT loop was deoptimized again at each call, 63 times over the
    // apache default. A double first (0.5, then the real start) keeps one
    // map for the whole run (test/reducers/vcpu-clock-map.test.ts).
    this.notBeforeMaxNs = this.latestNs = this.throttleStolenNs = this.pausedNs = 0.5;
    this.notBeforeMaxNs = this.latestNs = this.throttleStolenNs = this.pausedNs = 0;
  }

  /** The latest wall time seen: the migration's monotonic clock. */
  get nowNs(): number {
    return this.latestNs;
  }

  /** Total domain-wide pause time charged so far. */
  get domainPausedNs(): number {
    return this.pausedNs;
  }

  get throttlePct(): number {
    return this.throttle.percent;
  }

  /**
   * The rule for event i, of vCPU `vcpu` or of a device (NO_VCPU), at guest
   * time g, unthrottled: the event's wall time, or WAITS, with nothing
   * changed, when it reaches stopAtWallNs. A vCPU's stall changes here only
   * when a pause it sat out idle holds it back (notBeforeNs); its last guest
   * time and idle state are settled from lastEventAt when the loop stops.
   */
  wallNs(vcpu: number, g: number, i: number, stopAtWallNs: number): number {
    let wall: number;
    if (vcpu < this.vcpus) {
      wall = g + this.stallNs[vcpu]!;
      if (wall < this.notBeforeMaxNs) {
        const nb = this.notBeforeNs[vcpu]!;
        if (wall < nb && wall >= this.pausedFromNs[vcpu]!) {
          if (nb >= stopAtWallNs) return WAITS;
          // Integer nanoseconds throughout, so nb - g is the stall exactly.
          wall = nb;
          this.stallNs[vcpu] = wall - g;
        }
      }
      if (wall >= stopAtWallNs) return WAITS;
      this.lastEventAt[vcpu] = i;
    } else {
      const latest = this.latestNs;
      wall = g > latest ? g : latest;
      if (wall >= stopAtWallNs) return WAITS;
    }
    if (wall > this.latestNs) this.latestNs = wall;
    return wall;
  }

  /**
   * The rule throttled (auto-converge), with each vCPU's state kept at
   * every event, not settled. `idleEvent` is 1 for an idle event.
   */
  throttledWallNs(vcpu: number, g: number, idleEvent: number, stopAtWallNs: number): number {
    let wall: number;
    if (vcpu < this.vcpus) {
      let stall = this.stallNs[vcpu]!;
      // Exits charged since the vCPU's last event: hypervisor time before this one.
      const fromNs = this.lastWallNs[vcpu]! + (stall - this.stallAtLastNs[vcpu]!);
      let lost = 0;
      if (this.idle[vcpu] === 0) {
        // Busy since its last event: the work runs from there, around the sleeps.
        const busyNs = g - this.lastGuestNs[vcpu]!;
        wall = this.throttle.runFor(fromNs, busyNs);
        lost = wall - fromNs - busyNs;
      } else {
        // Idle: the event is due at its own time (the guest's clock ran on
        // through any sleep), not before the vCPU's last event, and waits
        // out a sleep it falls in.
        wall = g + stall;
        if (wall < fromNs) wall = fromNs;
        wall = this.throttle.afterSleep(wall);
      }
      const nb = this.notBeforeNs[vcpu]!;
      if (wall < nb && wall >= this.pausedFromNs[vcpu]!) {
        // A pause held it: as unthrottled, that time is the vCPU's for good.
        stall += nb - wall;
        wall = nb;
      }
      if (wall >= stopAtWallNs) return WAITS;
      if (lost !== 0) {
        this.throttleStolenNs += lost;
        this.throttleStolenNsByVcpu[vcpu] = this.throttleStolenNsByVcpu[vcpu]! + lost;
      }
      this.stallNs[vcpu] = stall;
      this.stallAtLastNs[vcpu] = stall;
      this.lastWallNs[vcpu] = wall;
      this.lastGuestNs[vcpu] = g;
      this.idle[vcpu] = idleEvent;
    } else {
      const latest = this.latestNs;
      wall = g > latest ? g : latest;
      if (wall >= stopAtWallNs) return WAITS;
    }
    if (wall > this.latestNs) this.latestNs = wall;
    return wall;
  }

  /**
   * Sets the CPU throttle, 0 to 99 percent, at wall time `atNs`
   * (cpu_throttle_set; 0 is cpu_throttle_stop). Called between event loops,
   * so every vCPU's state is settled: the throttled rule starts from each
   * vCPU's last event.
   */
  setThrottle(pct: number, atNs: number): void {
    const was = this.throttle.percent;
    if (was === 0 && pct > 0) {
      for (let v = 0; v < this.vcpus; v++) {
        this.lastWallNs[v] = this.lastGuestNs[v]! + this.stallNs[v]!;
        this.stallAtLastNs[v] = this.stallNs[v]!;
      }
    } else if (was > 0 && pct <= 0) {
      // Back to wall = g + stall: a vCPU the sleeps left behind its own
      // time starts no earlier than its last event (the unthrottled rule
      // then makes that lag its stall).
      for (let v = 0; v < this.vcpus; v++) {
        const w = this.lastWallNs[v]! + (this.stallNs[v]! - this.stallAtLastNs[v]!);
        if (w > this.notBeforeNs[v]!) {
          this.notBeforeNs[v] = w;
          // Not a pause: every later event is held to it.
          this.pausedFromNs[v] = 0;
        }
        if (w > this.notBeforeMaxNs) this.notBeforeMaxNs = w;
      }
    }
    this.throttle.set(pct, atNs);
  }

  /** The vCPU spends `ns` in the hypervisor (an exit, a fault, an emulation). */
  stall(vcpu: number, ns: number): void {
    // NO_VCPU (a device) is above any vCPU count.
    if (vcpu >= this.vcpus) return;
    this.stallNs[vcpu] = this.stallNs[vcpu]! + ns;
  }

  /** The whole domain is paused for `ns` from wall time `atNs`. */
  pauseAll(atNs: number, ns: number): void {
    for (let v = 0; v < this.vcpus; v++) {
      if (this.idle[v]) {
        const until = atNs + ns;
        if (until > this.notBeforeNs[v]!) {
          this.notBeforeNs[v] = until;
          this.pausedFromNs[v] = atNs;
        }
        if (until > this.notBeforeMaxNs) this.notBeforeMaxNs = until;
      } else {
        this.stallNs[v] = this.stallNs[v]! + ns;
      }
    }
    this.pausedNs += ns;
    if (atNs + ns > this.latestNs) this.latestNs = atNs + ns;
  }

  /**
   * The event loops, unthrottled, store only lastEventAt per event: when
   * one stops, each vCPU's last guest time and idle state come from its
   * last event there (a vCPU with none keeps its own). Scanning back for
   * them instead cost a pass over the events whenever a vCPU sat idle.
   */
  settle(batch: GuestBatch, tNs: Float64Array): void {
    this.loopKinds = undefined;
    const kind = batch.kind;
    const at = this.lastEventAt;
    for (let v = 0; v < this.vcpus; v++) {
      const k = at[v]!;
      if (k < 0) continue;
      at[v] = -1;
      this.lastGuestNs[v] = tNs[k]!;
      this.idle[v] = kind[k] === GuestEventKind.idle ? 1 : 0;
    }
  }

  /**
   * An unthrottled loop starts over a batch of these event kinds: until it
   * settles, idleNow reads a vCPU's state from its last event there.
   */
  beginLoop(kinds: Uint8Array): void {
    this.loopKinds = kinds;
  }

  /**
   * Whether the vCPU is idle now (its last event was \`idle\`), also in the
   * middle of a loop, where \`idle\` is only settled when the loop stops: an
   * exit handler that asks (KVM kicks only vCPUs in the guest) gets the same
   * answer from the EPT loop as from Tracker.process, wherever each stopped.
   */
  idleNow(vcpu: number): number {
    const at = this.lastEventAt[vcpu]!;
    const kinds = this.loopKinds;
    if (at >= 0 && kinds !== undefined) return kinds[at] === GuestEventKind.idle ? 1 : 0;
    return this.idle[vcpu]!;
  }

  /** Each vCPU's time lost so far: its stall (exits, faults, pauses, dirty-limit sleeps) and what the CPU throttle's sleeps took from its work. */
  lostNsByVcpu(): number[] {
    return Array.from(this.stallNs, (s, v) => s + this.throttleStolenNsByVcpu[v]!);
  }

  /** Sum of all vCPUs' stalls (the guest's lost time). */
  totalStallNs(): number {
    let s = 0;
    for (let v = 0; v < this.vcpus; v++) s += this.stallNs[v]!;
    return s;
  }

  /** The guest's events have ended: every vCPU is idle from here on (pauses no longer stall it). */
  idleAll(): void {
    this.idle.fill(1);
  }

  /** Wall time moves on to `ns` with nothing running (an idle guest waiting for the toolstack). */
  advanceTo(ns: number): void {
    if (ns > this.latestNs) this.latestNs = ns;
  }
}
