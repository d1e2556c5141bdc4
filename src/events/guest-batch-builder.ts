import { ColumnBatchBuilder } from './column-batch-builder.js';
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
export class GuestBatchBuilder extends ColumnBatchBuilder<GuestBatch, Int32Array> {
  constructor(sink: (batch: GuestBatch) => void, capacity: number = DEFAULT_BATCH_EVENTS) {
    super(sink, capacity, Int32Array);
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

  protected batch(count: number, baseNs: number, endNs: number): GuestBatch {
    return {
      count,
      baseNs,
      endNs,
      kind: this.kind.subarray(0, count),
      dtNs: this.dtNs.subarray(0, count),
      vcpu: this.vcpu.subarray(0, count),
      page: this.page.subarray(0, count),
      arg: this.arg.subarray(0, count),
      pte: this.last.subarray(0, count),
    };
  }
}
