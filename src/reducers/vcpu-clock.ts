import { NO_VCPU } from '../events/guest-event-kind.js';

/**
 * Guest time to wall time, per vCPU (DESIGN section 4). Every exit, fault,
 * emulation or pause a vCPU takes stalls it, so its later events happen
 * that much later in wall time: wall = guest time + accumulated stall. This
 * is how tracking overhead slows the guest and, with it, its dirtying rate.
 *
 * A domain-wide pause (CLEAN, suspend) stalls every busy vCPU by its length;
 * a vCPU that is idle (after an `idle` event, until its next event) loses
 * nothing unless the pause outlasts its idle time, as on real hardware.
 */
export class VcpuClock {
  readonly stallNs: Float64Array;
  /** Earliest wall time of a vCPU's next event (set by pauses while idle). */
  readonly notBeforeNs: Float64Array;
  /** 1 while the vCPU is idle: its last event was `idle`. */
  readonly idle: Uint8Array;
  private latestNs = 0;
  private pausedNs = 0;

  constructor(readonly vcpus: number) {
    this.stallNs = new Float64Array(vcpus);
    this.notBeforeNs = new Float64Array(vcpus);
    this.idle = new Uint8Array(vcpus);
  }

  /** The latest wall time seen: the migration's monotonic clock. */
  get nowNs(): number {
    return this.latestNs;
  }

  /** Total domain-wide pause time charged so far. */
  get domainPausedNs(): number {
    return this.pausedNs;
  }

  /**
   * Wall time of an event at `guestNs` on `vcpu`. Pure but for one thing: a
   * pause that overran the vCPU's idle time becomes stall, for good.
   */
  wallOf(guestNs: number, vcpu: number): number {
    if (vcpu === NO_VCPU || vcpu >= this.vcpus) return guestNs > this.latestNs ? guestNs : this.latestNs;
    let wall = guestNs + this.stallNs[vcpu]!;
    const nb = this.notBeforeNs[vcpu]!;
    if (wall < nb) {
      this.stallNs[vcpu] = nb - guestNs;
      wall = nb;
    }
    return wall;
  }

  /** Moves the monotonic clock to `wallNs` if it is later. */
  advance(wallNs: number): void {
    if (wallNs > this.latestNs) this.latestNs = wallNs;
  }

  /** The vCPU spends `ns` in the hypervisor (an exit, a fault, an emulation). */
  stall(vcpu: number, ns: number): void {
    if (vcpu === NO_VCPU || vcpu >= this.vcpus) return;
    this.stallNs[vcpu] = this.stallNs[vcpu]! + ns;
  }

  /** The whole domain is paused for `ns` from wall time `atNs`. */
  pauseAll(atNs: number, ns: number): void {
    for (let v = 0; v < this.vcpus; v++) {
      if (this.idle[v]) {
        const until = atNs + ns;
        if (until > this.notBeforeNs[v]!) this.notBeforeNs[v] = until;
      } else {
        this.stallNs[v] = this.stallNs[v]! + ns;
      }
    }
    this.pausedNs += ns;
    if (atNs + ns > this.latestNs) this.latestNs = atNs + ns;
  }

  /** Sum of all vCPUs' stalls (the guest's lost time). */
  totalStallNs(): number {
    let s = 0;
    for (let v = 0; v < this.vcpus; v++) s += this.stallNs[v]!;
    return s;
  }
}
