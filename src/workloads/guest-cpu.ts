import type { GuestBatchBuilder } from '../events/guest-batch-builder.js';
import type { GuestKernel } from './guest-kernel.js';
import { KERNEL_COSTS_NS } from './kernel-costs.js';

/**
 * Which vCPUs are busy, so that the time a vCPU spends running nothing is
 * stated with an `idle` event (DESIGN section 4: an idle vCPU loses nothing
 * to a pause or a throttle). A vCPU is busy until the end of the work it was
 * last given; from there it is idle until its next work: the idle event is
 * at the gap's start (the vCPU clock treats the time after an idle event as
 * idle), emitted by the batch builder once a later event shows the gap is
 * real (GuestBatchBuilder.idleAfter). A gap shorter than `minIdleNs` before
 * the vCPU's own next work counts as busy (a spinning or just-descheduled
 * CPU).
 */
export class VcpuActivity {
  private readonly busyEndNs: Float64Array;

  constructor(
    private readonly out: GuestBatchBuilder,
    readonly vcpus: number,
    readonly minIdleNs = 10_000,
  ) {
    this.busyEndNs = new Float64Array(vcpus);
  }

  /** The vCPU's current work ends at `endNs`; it is idle after that until it is given more. */
  busyUntil(vcpu: number, endNs: number): void {
    if (endNs > this.busyEndNs[vcpu]!) this.busyEndNs[vcpu] = endNs;
    this.out.idleAfter(vcpu, this.busyEndNs[vcpu]!, this.minIdleNs);
  }

  /** Idle events at `endNs` for every vCPU not busy then, so the trace reaches the end of the run. */
  finish(endNs: number): void {
    if (endNs >= this.out.nowNs) this.out.flushIdle(endNs);
    for (let v = 0; v < this.vcpus; v++) {
      if (this.busyEndNs[v]! < endNs && endNs >= this.out.nowNs) this.out.idle(endNs, v);
    }
  }
}

/**
 * The periodic timer interrupt of every vCPU (HZ ticks a second, a 2.6-era
 * kernel without NO_HZ: idle CPUs tick too). All vCPUs tick at the same
 * instants, in vCPU order. Call `until(t)` before emitting anything at t.
 */
export class TimerTicks {
  readonly periodNs: number;
  nextNs: number;

  constructor(
    private readonly kernel: GuestKernel,
    private readonly activity: VcpuActivity,
    hz: number,
    firstNs = 0,
  ) {
    if (!(hz > 0)) throw new RangeError(`timer frequency must be positive, got ${hz}`);
    this.periodNs = Math.max(1, Math.round(1e9 / hz));
    this.nextNs = firstNs;
  }

  /** Emits every tick due at or before `tNs`. */
  until(tNs: number): void {
    while (this.nextNs <= tNs) {
      const t = this.nextNs;
      for (let v = 0; v < this.activity.vcpus; v++) {
        this.kernel.timerTick(v, t);
        this.activity.busyUntil(v, t + KERNEL_COSTS_NS.tick);
      }
      this.nextNs += this.periodNs;
    }
  }
}

/** Thrown inside a workload script when its next step would pass the end of the run. */
export class RunEnded extends Error {
  override readonly name = 'RunEnded';
}
