import type { GuestBatch } from '../events/guest-batch.js';
import { GuestEventKind, NO_VCPU } from '../events/guest-event-kind.js';

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
 * nothing unless the pause outlasts its idle time, as on real hardware.
 *
 * A CPU throttle (QEMU's auto-converge, cpu_throttle_set) takes a share of
 * a vCPU's running time: QEMU sleeps the vCPU thread pct/(100-pct) of each
 * 10 ms timeslice it runs, so busy guest time stretches by that factor and
 * idle time does not.
 *
 * The rule for one event of a vCPU at guest time g, in this order (integer
 * nanoseconds throughout, so every sum is exact):
 * - debt = floor((g - lastGuestNs) * pct / (100 - pct)) while throttled
 *   and busy, else 0;
 * - wall = g + stallNs + debt, raised to notBeforeNs if below it;
 * - if wall reaches the toolstack's next action, the event waits;
 * - otherwise stallNs = wall - g, lastGuestNs = g, idle = (event is idle),
 *   latestNs = max(latestNs, wall). Unthrottled, the loops note the event's
 *   index in lastEventAt instead of the last two, and settle when they stop.
 * An event of no vCPU (a device) happens at max(g, latestNs).
 *
 * wallNs and throttledWallNs below are the rule, stated nowhere else: the
 * event loops (Tracker.process, and runUnderEpt in ept-run.ts) call them
 * for every event. V8 inlines the call, and it measured as fast as the rule
 * written out in both loops (A/B of HAP and shadow on apache, both orders:
 * 0.98 of the inlined loops' time).
 */
export class VcpuClock {
  /** Wall minus guest time at each vCPU's last event. */
  readonly stallNs: Float64Array;
  /** Earliest wall time of a vCPU's next event (set by pauses while idle). */
  readonly notBeforeNs: Float64Array;
  /**
   * The largest notBeforeNs: an event whose wall time is already past it
   * needs no look at its vCPU's own (the loops' common case, once a pause
   * is over).
   */
  notBeforeMaxNs = 0;
  /** 1 while the vCPU is idle: its last event was `idle`. */
  readonly idle: Uint8Array;
  /** Guest time of each vCPU's last event (the throttle's debt runs from there). */
  readonly lastGuestNs: Float64Array;
  /** The latest wall time seen. */
  latestNs = 0;
  /** Busy time the throttle has taken from the vCPUs, all together. */
  throttleStolenNs = 0;
  private pausedNs = 0;
  /**
   * Unthrottled loops store, per vCPU, the index of its last event in the
   * events they ran (-1: none), for settle; -1 for every vCPU between loops.
   */
  readonly lastEventAt: Int32Array;
  private throttle = 0;

  constructor(readonly vcpus: number) {
    if (vcpus >= NO_VCPU) throw new RangeError(`${vcpus} vCPUs: ids must stay below NO_VCPU (${NO_VCPU})`);
    this.stallNs = new Float64Array(vcpus);
    this.notBeforeNs = new Float64Array(vcpus);
    this.idle = new Uint8Array(vcpus);
    this.lastGuestNs = new Float64Array(vcpus);
    this.lastEventAt = new Int32Array(vcpus).fill(-1);
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
    return this.throttle;
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
        if (wall < nb) {
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
   * The rule throttled (auto-converge): as wallNs, with the throttle's debt
   * added to a busy vCPU's time and its state kept at every event, not
   * settled. `idleEvent` is 1 for an idle event.
   */
  throttledWallNs(vcpu: number, g: number, idleEvent: number, stopAtWallNs: number): number {
    let wall: number;
    if (vcpu < this.vcpus) {
      const pct = this.throttle;
      const debt = this.idle[vcpu] === 0 ? Math.floor(((g - this.lastGuestNs[vcpu]!) * pct) / (100 - pct)) : 0;
      wall = g + this.stallNs[vcpu]! + debt;
      const nb = this.notBeforeNs[vcpu]!;
      if (wall < nb) wall = nb;
      if (wall >= stopAtWallNs) return WAITS;
      if (debt !== 0) this.throttleStolenNs += debt;
      this.stallNs[vcpu] = wall - g;
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

  /** Sets the CPU throttle, 0 to 99 percent. */
  setThrottle(pct: number): void {
    this.throttle = Math.max(0, Math.min(99, Math.round(pct)));
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
        if (until > this.notBeforeNs[v]!) this.notBeforeNs[v] = until;
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
