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

  /**
   * The vCPU has nothing to run from `atNs` (its work ends there), so it
   * goes idle then: an idle event at `atNs` is emitted before the first
   * later event, unless that is the vCPU's own and comes less than
   * `minGapNs` after (a gap that short counts as busy: a spinning or
   * just-descheduled CPU). Deferred because the workload only knows the
   * work's end once it has emitted the work, and events stay in time order.
   * A later call for the same vCPU replaces the earlier (its work went on).
   */
  idleAfter(vcpu: number, atNs: number, minGapNs: number): void {
    if (vcpu >= this.idleAtNs.length) {
      const grown = new Float64Array(vcpu + 1).fill(Infinity);
      grown.set(this.idleAtNs);
      this.idleAtNs = grown;
    }
    this.idleMinGapNs = minGapNs;
    this.idleAtNs[vcpu] = Math.max(atNs, this.lastNs);
    this.idlePendingNs = Math.min(this.idlePendingNs, this.idleAtNs[vcpu]!);
  }

  /** Emits every deferred idle event due at or before `tNs` (the end of the run, say). */
  flushIdle(tNs: number): void {
    if (tNs >= this.idlePendingNs) this.settleIdle(tNs, -1);
  }

  private idleAtNs = new Float64Array(0);
  private idleMinGapNs = 0;
  /** The earliest deferred idle (Infinity: none): one compare per event when there is none due. */
  private idlePendingNs = Infinity;

  /** Deferred idles due before an event of `vcpu` (-1: none) at `tNs`, in time order (ties: lower vCPU first). */
  private settleIdle(tNs: number, vcpu: number): void {
    const at = this.idleAtNs;
    for (;;) {
      let u = -1;
      let e = Infinity;
      for (let v = 0; v < at.length; v++) {
        if (at[v]! < e) {
          e = at[v]!;
          u = v;
        }
      }
      if (u < 0 || e > tNs) {
        this.idlePendingNs = e;
        return;
      }
      at[u] = Infinity;
      if (u === vcpu && tNs - e < this.idleMinGapNs) continue;
      this.append(GuestEventKind.idle, e, u, 0, 0, 0);
    }
  }

  emit(kind: number, tNs: number, vcpu: number, page: number, arg: number, pte: number): void {
    if (!(tNs - this.lastNs >= 0) || !Number.isSafeInteger(tNs)) {
      throw new RangeError(`guest events must come in time order with integer ns: ${tNs} after ${this.lastNs}`);
    }
    if (tNs >= this.idlePendingNs) this.settleIdle(tNs, vcpu);
    this.append(kind, tNs, vcpu, page, arg, pte);
  }

  private append(kind: number, tNs: number, vcpu: number, page: number, arg: number, pte: number): void {
    let dt = tNs - this.lastNs;
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
