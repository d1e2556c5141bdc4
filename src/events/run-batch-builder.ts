import { NO_VCPU } from './guest-event-kind.js';
import type { RunBatch } from './run-batch.js';
import { RunEventKind } from './run-event-kind.js';

/**
 * Collects run events emitted by reducers while they loop over a guest batch,
 * and hands them on as one RunBatch. Arrays are reused after the sink returns.
 */
export class RunBatchBuilder {
  private readonly kind: Uint8Array;
  private readonly dtNs: Uint32Array;
  private readonly vcpu: Uint16Array;
  private readonly page: Int32Array;
  private readonly arg: Int32Array;
  private readonly costNs: Uint32Array;
  private n = 0;
  private flushed = 0;
  private batchBaseNs = 0;
  private lastNs = 0;

  constructor(
    private readonly sink: (batch: RunBatch) => void,
    readonly capacity = 16_384,
  ) {
    this.kind = new Uint8Array(capacity);
    this.dtNs = new Uint32Array(capacity);
    this.vcpu = new Uint16Array(capacity);
    this.page = new Int32Array(capacity);
    this.arg = new Int32Array(capacity);
    this.costNs = new Uint32Array(capacity);
  }

  /** Run events emitted so far (ticks included): a position in the run stream. */
  get emitted(): number {
    return this.flushed + this.n;
  }

  get nowNs(): number {
    return this.lastNs;
  }

  /**
   * Appends one event at wall time `wallNs`. Reducers may report events of
   * different vCPUs slightly out of order; the run stream is kept monotonic
   * by clamping to the latest time seen, as the migration's wall clock is.
   */
  emit(kind: number, wallNs: number, vcpu: number, page: number, arg: number, costNs: number): void {
    let dt = Math.round(wallNs - this.lastNs);
    if (dt < 0) dt = 0;
    // A gap longer than a delta holds (4.3 s of a long final copy, say) is
    // carried by tick events, as idle events carry the guest's.
    while (dt > 0xffff_ffff) {
      this.push(RunEventKind.tick, 0xffff_ffff, NO_VCPU, -1, 0, 0);
      dt -= 0xffff_ffff;
    }
    this.push(kind, dt, vcpu, page, arg, costNs);
  }

  private push(kind: number, dt: number, vcpu: number, page: number, arg: number, costNs: number): void {
    const i = this.n;
    this.kind[i] = kind;
    this.dtNs[i] = dt;
    this.vcpu[i] = vcpu;
    this.page[i] = page;
    this.arg[i] = arg;
    this.costNs[i] = Math.min(Math.round(costNs), 0xffff_ffff);
    this.lastNs += dt;
    if (++this.n === this.capacity) this.flush();
  }

  flush(): void {
    const n = this.n;
    if (n === 0) return;
    this.n = 0;
    this.flushed += n;
    const batch: RunBatch = {
      count: n,
      baseNs: this.batchBaseNs,
      endNs: this.lastNs,
      kind: this.kind.subarray(0, n),
      dtNs: this.dtNs.subarray(0, n),
      vcpu: this.vcpu.subarray(0, n),
      page: this.page.subarray(0, n),
      arg: this.arg.subarray(0, n),
      costNs: this.costNs.subarray(0, n),
    };
    this.batchBaseNs = this.lastNs;
    this.sink(batch);
  }
}
