import { GuestEventKind } from './guest-event-kind.js';
import type { GuestBatch } from './guest-batch.js';

/** Largest gap one event's dtNs column can hold. */
const MAX_DT_NS = 0xffff_ffff;

export const DEFAULT_BATCH_EVENTS = 65_536;

/**
 * Fills reused typed-array columns one event at a time and hands each full
 * batch to `sink`. Producers (workloads, importers, the trace reader) call the
 * per-kind methods; consumers see only whole batches, never one event.
 *
 * The arrays are reused after `sink` returns, so the sink must consume or copy
 * the batch synchronously (see GuestBatch).
 */
export class GuestBatchBuilder {
  private readonly kind: Uint8Array;
  private readonly dtNs: Uint32Array;
  private readonly vcpu: Uint16Array;
  private readonly page: Int32Array;
  private readonly arg: Int32Array;
  private readonly pte: Int32Array;
  private n = 0;
  private batchBaseNs = 0;
  private lastNs = 0;
  private emitted = 0;

  constructor(
    private readonly sink: (batch: GuestBatch) => void,
    readonly capacity: number = DEFAULT_BATCH_EVENTS,
  ) {
    this.kind = new Uint8Array(capacity);
    this.dtNs = new Uint32Array(capacity);
    this.vcpu = new Uint16Array(capacity);
    this.page = new Int32Array(capacity);
    this.arg = new Int32Array(capacity);
    this.pte = new Int32Array(capacity);
  }

  /** Time of the latest event emitted. */
  get nowNs(): number {
    return this.lastNs;
  }

  /** Events emitted so far, flushed or not. */
  get eventCount(): number {
    return this.emitted;
  }

  write(tNs: number, vcpu: number, vpn: number, bytes: number): void {
    this.emit(GuestEventKind.write, tNs, vcpu, vpn, bytes, 0);
  }

  read(tNs: number, vcpu: number, vpn: number): void {
    this.emit(GuestEventKind.read, tNs, vcpu, vpn, 0, 0);
  }

  ptWrite(tNs: number, vcpu: number, ptPfn: number, index: number, pte: number): void {
    this.emit(GuestEventKind.ptWrite, tNs, vcpu, ptPfn, index, pte);
  }

  cr3Load(tNs: number, vcpu: number, rootPfn: number): void {
    this.emit(GuestEventKind.cr3Load, tNs, vcpu, rootPfn, 0, 0);
  }

  physWrite(tNs: number, vcpu: number, pfn: number, bytes: number): void {
    this.emit(GuestEventKind.physWrite, tNs, vcpu, pfn, bytes, 0);
  }

  idle(tNs: number, vcpu: number): void {
    this.emit(GuestEventKind.idle, tNs, vcpu, 0, 0, 0);
  }

  emit(kind: number, tNs: number, vcpu: number, page: number, arg: number, pte: number): void {
    let dt = tNs - this.lastNs;
    if (!(dt >= 0) || !Number.isSafeInteger(tNs)) {
      throw new RangeError(`guest events must come in time order with integer ns: ${tNs} after ${this.lastNs}`);
    }
    // A gap longer than one delta can hold is time in which nothing ran on
    // this vCPU: say so with idle events rather than widen every delta.
    while (dt > MAX_DT_NS) {
      this.push(GuestEventKind.idle, MAX_DT_NS, vcpu, 0, 0, 0);
      dt -= MAX_DT_NS;
    }
    this.push(kind, dt, vcpu, page, arg, pte);
  }

  private push(kind: number, dt: number, vcpu: number, page: number, arg: number, pte: number): void {
    const i = this.n;
    this.kind[i] = kind;
    this.dtNs[i] = dt;
    this.vcpu[i] = vcpu;
    this.page[i] = page;
    this.arg[i] = arg;
    this.pte[i] = pte;
    this.lastNs += dt;
    this.emitted++;
    if (++this.n === this.capacity) this.flush();
  }

  /** Hands the pending events, if any, to the sink as one batch. */
  flush(): void {
    const n = this.n;
    if (n === 0) return;
    this.n = 0;
    const batch: GuestBatch = {
      count: n,
      baseNs: this.batchBaseNs,
      endNs: this.lastNs,
      kind: this.kind.subarray(0, n),
      dtNs: this.dtNs.subarray(0, n),
      vcpu: this.vcpu.subarray(0, n),
      page: this.page.subarray(0, n),
      arg: this.arg.subarray(0, n),
      pte: this.pte.subarray(0, n),
    };
    this.batchBaseNs = this.lastNs;
    this.sink(batch);
  }
}
