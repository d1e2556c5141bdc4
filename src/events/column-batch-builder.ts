import { DOUBLE_FIRST } from '../util/double-field.js';
import { zeroed } from '../util/array-pool.js';

/** Events the columns hold at first (they grow to the capacity). */
const FIRST_ROOM = 4096;

/** `to` with `from`'s values at its start. */
function grown<T extends Uint8Array | Uint16Array | Uint32Array | Int32Array>(from: T, to: T): T {
  to.set(from);
  return to;
}

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
  // The columns start at FIRST_ROOM events and double as they fill, up to
  // `capacity`: a short run (10,001 events) then touches a few pages of
  // them where the full 65,536 cost 1.2 MiB per builder, zeroed by the
  // allocator, the largest allocation of a short run's start (170 of its
  // page faults, each 10-20 us on this kind of virtual machine). A batch
  // still holds `capacity` events, as before: only the arrays grow.
  protected kind: Uint8Array;
  protected dtNs: Uint32Array;
  protected vcpu: Uint16Array;
  protected page: Int32Array;
  protected arg: Int32Array;
  /** The sixth column (guest: pte, run: costNs). */
  protected last: Last;
  /** The columns' length: events they hold before they grow (or, at `capacity`, flush). */
  private room: number;
  /** Time of the latest event (double fields from the start: src/util/double-field.ts). */
  protected lastNs = DOUBLE_FIRST;
  private n = 0;
  private batchBaseNs = DOUBLE_FIRST;
  private flushed = 0;

  constructor(
    private readonly sink: (batch: B) => void,
    readonly capacity: number,
    private readonly lastColumn: new (length: number) => Last,
  ) {
    const room = (this.room = Math.min(capacity, FIRST_ROOM));
    this.kind = zeroed(Uint8Array, room);
    this.dtNs = zeroed(Uint32Array, room);
    this.vcpu = zeroed(Uint16Array, room);
    this.page = zeroed(Int32Array, room);
    this.arg = zeroed(Int32Array, room);
    this.last = new lastColumn(room);
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
    if (++this.n === this.room) this.full();
  }

  /** The columns are full: a whole batch goes to the sink, or they grow. */
  private full(): void {
    if (this.room === this.capacity) return this.flush();
    const room = (this.room = Math.min(this.capacity, this.room * 2));
    this.kind = grown(this.kind, zeroed(Uint8Array, room));
    this.dtNs = grown(this.dtNs, zeroed(Uint32Array, room));
    this.vcpu = grown(this.vcpu, zeroed(Uint16Array, room));
    this.page = grown(this.page, zeroed(Int32Array, room));
    this.arg = grown(this.arg, zeroed(Int32Array, room));
    this.last = grown(this.last, new this.lastColumn(room));
  }

  /** The first `count` events as a batch of views of the columns. */
  protected abstract batch(count: number, baseNs: number, endNs: number): B;
}
