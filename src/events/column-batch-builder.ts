import { DOUBLE_FIRST } from '../util/double-field.js';
import { zeroed } from '../util/array-pool.js';

/**
 * What the guest and run batch builders share: reused typed-array columns
 * filled one event at a time, time kept as deltas from the event before,
 * and each full batch handed to a sink. Guest and run batches have the same
 * five columns (kind, dtNs, vcpu, page, arg) and differ in the sixth
 * (guest: the PTE a pt_write stores, Int32; run: the event's cost, Uint32),
 * and in what an event may be (src/events/guest-batch-builder.ts,
 * src/events/run-batch-builder.ts).
 *
 * The arrays are reused after the sink returns, so the sink must consume or
 * copy the batch synchronously (see GuestBatch).
 */
export abstract class ColumnBatchBuilder<B, Last extends Int32Array | Uint32Array> {
  protected readonly kind: Uint8Array;
  protected readonly dtNs: Uint32Array;
  protected readonly vcpu: Uint16Array;
  protected readonly page: Int32Array;
  protected readonly arg: Int32Array;
  /** The sixth column (guest: pte, run: costNs). */
  protected readonly last: Last;
  /** Time of the latest event (double fields from the start: src/util/double-field.ts). */
  protected lastNs = DOUBLE_FIRST;
  private n = 0;
  private batchBaseNs = DOUBLE_FIRST;
  private flushed = 0;

  constructor(
    private readonly sink: (batch: B) => void,
    readonly capacity: number,
    lastColumn: new (length: number) => Last,
  ) {
    this.kind = zeroed(Uint8Array, capacity);
    this.dtNs = zeroed(Uint32Array, capacity);
    this.vcpu = zeroed(Uint16Array, capacity);
    this.page = zeroed(Int32Array, capacity);
    this.arg = zeroed(Int32Array, capacity);
    this.last = new lastColumn(capacity);
    this.lastNs = 0;
    this.batchBaseNs = 0;
  }

  /** Time of the latest event emitted. */
  get nowNs(): number {
    return this.lastNs;
  }

  /** Events emitted so far, flushed or not. */
  get eventCount(): number {
    return this.flushed + this.n;
  }

  /** Hands the pending events, if any, to the sink as one batch. */
  flush(): void {
    const n = this.n;
    if (n === 0) return;
    this.n = 0;
    this.flushed += n;
    const batch = this.batch(n, this.batchBaseNs, this.lastNs);
    this.batchBaseNs = this.lastNs;
    this.sink(batch);
  }

  /** Flushes first unless `events` more fit in the batch, so that they go out together. */
  protected reserve(events: number): void {
    if (this.n + events > this.capacity) this.flush();
  }

  /** Appends one event `dt` ns after the one before (dt fits the column). */
  protected push(kind: number, dt: number, vcpu: number, page: number, arg: number, last: number): void {
    const i = this.n;
    this.kind[i] = kind;
    this.dtNs[i] = dt;
    this.vcpu[i] = vcpu;
    this.page[i] = page;
    this.arg[i] = arg;
    this.last[i] = last;
    this.lastNs += dt;
    if (++this.n === this.capacity) this.flush();
  }

  /** The first `count` events as a batch of views of the columns. */
  protected abstract batch(count: number, baseNs: number, endNs: number): B;
}
