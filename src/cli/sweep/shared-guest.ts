import { from } from '../../util/rx.js';
import { type GuestBatch, sliceGuestBatch } from '../../events/guest-batch.js';
import type { GuestSource } from '../../api/guest-source.js';
import type { TraceHeader } from '../../trace/trace-records.js';
import { drainSync } from '../../util/drain-sync.js';

/**
 * A guest's events generated (or decoded) once and read by every run of a
 * sweep that migrates the same guest: generating an apache guest costs
 * more than migrating it under HAP or PML, so a grid of trackers x
 * bandwidths x limits over one workload and seed pays for it once.
 *
 * The events are the batches' columns laid end to end in one
 * SharedArrayBuffer per column, with each batch's length and times beside
 * them: posted to a worker thread, a SharedArrayBuffer is shared, not
 * copied, so any number of workers read one copy at once (a transferred
 * ArrayBuffer would be moved to one of them only). The batches are
 * rebuilt as views with the same boundaries as the generator's, so a run
 * sees exactly the stream it would have generated. Runs only read guest
 * batches (a batch may even be a reused buffer, src/events/guest-batch.ts).
 */
export interface SharedGuest extends GuestColumns {
  readonly header: TraceHeader;
  readonly count: number;
  readonly batchCounts: readonly number[];
  readonly batchBaseNs: readonly number[];
  readonly batchEndNs: readonly number[];
}

/**
 * The six columns' buffers, room for `capacity(columns)` events (a
 * guest's `count` may be fewer). A sweep hands the buffers of a guest
 * whose runs are all done to the next guest it generates: fresh memory
 * costs a page fault per 4 KiB on first touch, and an apache guest is
 * 23 MiB of columns, as much CPU as generating it (measured on the sweep
 * bench), so it is allocated once per open guest, not once per guest.
 */
export interface GuestColumns {
  readonly kind: SharedArrayBuffer;
  readonly dtNs: SharedArrayBuffer;
  readonly vcpu: SharedArrayBuffer;
  readonly page: SharedArrayBuffer;
  readonly arg: SharedArrayBuffer;
  readonly pte: SharedArrayBuffer;
}

/** Events the columns have room for. */
export function capacity(c: GuestColumns): number {
  return c.kind.byteLength;
}

/** Room for a first guest before it grows: 1 Mi events (19 MiB; an apache default is 1.2 M). */
const FIRST_CAPACITY = 1 << 20;

function allocateColumns(events: number): GuestColumns {
  return {
    kind: new SharedArrayBuffer(events),
    dtNs: new SharedArrayBuffer(events * 4),
    vcpu: new SharedArrayBuffer(events * 2),
    page: new SharedArrayBuffer(events * 4),
    arg: new SharedArrayBuffer(events * 4),
    pte: new SharedArrayBuffer(events * 4),
  };
}

/** Columns with room for `events`, the first `used` events of `c` copied in. */
function grow(c: GuestColumns, used: number, events: number): GuestColumns {
  const g = allocateColumns(events);
  new Uint8Array(g.kind).set(new Uint8Array(c.kind, 0, used));
  new Uint32Array(g.dtNs).set(new Uint32Array(c.dtNs, 0, used));
  new Uint16Array(g.vcpu).set(new Uint16Array(c.vcpu, 0, used));
  new Int32Array(g.page).set(new Int32Array(c.page, 0, used));
  new Int32Array(g.arg).set(new Int32Array(c.arg, 0, used));
  new Int32Array(g.pte).set(new Int32Array(c.pte, 0, used));
  return g;
}

/**
 * Collects a source's batches into shared columns: into `reuse`'s buffers
 * when given (a guest whose runs are over), grown when the guest needs
 * more room. Each batch is copied once, as it comes (batches may reuse
 * their buffers), straight into the columns.
 */
export function shareGuest(source: GuestSource, reuse?: GuestColumns): SharedGuest {
  let cols = reuse ?? allocateColumns(FIRST_CAPACITY);
  let count = 0;
  const counts: number[] = [];
  const baseNs: number[] = [];
  const endNs: number[] = [];
  drainSync(source.events(), (b) => {
    const n = b.count;
    if (count + n > capacity(cols)) cols = grow(cols, count, Math.max(count + n, Math.ceil(capacity(cols) * 1.5)));
    new Uint8Array(cols.kind, count, n).set(b.kind.subarray(0, n));
    new Uint32Array(cols.dtNs, count * 4, n).set(b.dtNs.subarray(0, n));
    new Uint16Array(cols.vcpu, count * 2, n).set(b.vcpu.subarray(0, n));
    new Int32Array(cols.page, count * 4, n).set(b.page.subarray(0, n));
    new Int32Array(cols.arg, count * 4, n).set(b.arg.subarray(0, n));
    new Int32Array(cols.pte, count * 4, n).set(b.pte.subarray(0, n));
    counts.push(n);
    baseNs.push(b.baseNs);
    endNs.push(b.endNs);
    count += n;
  });
  return { header: source.header, count, batchCounts: counts, batchBaseNs: baseNs, batchEndNs: endNs, ...columnsOf(cols) };
}

/** The buffers of a guest (or of columns), to be filled again by shareGuest. */
export function columnsOf(g: GuestColumns): GuestColumns {
  return { kind: g.kind, dtNs: g.dtNs, vcpu: g.vcpu, page: g.page, arg: g.arg, pte: g.pte };
}

/** A guest source that replays the shared events, batch for batch. */
export function sharedSource(g: SharedGuest, label: string): GuestSource {
  const n = g.count;
  const whole: GuestBatch = {
    count: n,
    baseNs: 0,
    endNs: 0,
    kind: new Uint8Array(g.kind, 0, n),
    dtNs: new Uint32Array(g.dtNs, 0, n),
    vcpu: new Uint16Array(g.vcpu, 0, n),
    page: new Int32Array(g.page, 0, n),
    arg: new Int32Array(g.arg, 0, n),
    pte: new Int32Array(g.pte, 0, n),
  };
  const batches: GuestBatch[] = [];
  let at = 0;
  g.batchCounts.forEach((n, i) => {
    batches.push(sliceGuestBatch(whole, at, at + n, g.batchBaseNs[i]!, g.batchEndNs[i]!));
    at += n;
  });
  return { header: g.header, label, events: () => from(batches) };
}
