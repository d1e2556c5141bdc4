import { ColumnBatchBuilder } from './column-batch-builder.js';
import { NO_VCPU } from './guest-event-kind.js';
import type { RunBatch } from './run-batch.js';
import { COST_WORD_NS, MAX_RUN_COST_NS } from './run-cost.js';
import { RunEventKind } from './run-event-kind.js';

/**
 * Collects run events emitted by reducers while they loop over a guest batch,
 * and hands them on as one RunBatch. Arrays are reused after the sink returns.
 */
export class RunBatchBuilder extends ColumnBatchBuilder<RunBatch, Uint32Array> {
  constructor(sink: (batch: RunBatch) => void, capacity = 16_384) {
    super(sink, capacity, Uint32Array);
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
    const cost = Math.min(Math.round(costNs), MAX_RUN_COST_NS);
    if (!(cost >= COST_WORD_NS)) {
      this.push(kind, dt, vcpu, page, arg, cost);
      return;
    }
    // A cost the column cannot hold (a checkpoint's send of a large guest
    // takes well over 4.29 s): its low word here, its high word in a
    // cost_high event right after, in the same batch (src/events/run-cost.ts).
    this.reserve(2);
    this.push(kind, dt, vcpu, page, arg, cost % COST_WORD_NS);
    this.push(RunEventKind.costHigh, 0, NO_VCPU, -1, 0, Math.floor(cost / COST_WORD_NS));
  }

  protected batch(count: number, baseNs: number, endNs: number): RunBatch {
    return {
      count,
      baseNs,
      endNs,
      kind: this.kind.subarray(0, count),
      dtNs: this.dtNs.subarray(0, count),
      vcpu: this.vcpu.subarray(0, count),
      page: this.page.subarray(0, count),
      arg: this.arg.subarray(0, count),
      costNs: this.last.subarray(0, count),
    };
  }
}
