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
export interface SharedGuest {
  readonly header: TraceHeader;
  readonly count: number;
  readonly batchCounts: readonly number[];
  readonly batchBaseNs: readonly number[];
  readonly batchEndNs: readonly number[];
  readonly kind: SharedArrayBuffer;
  readonly dtNs: SharedArrayBuffer;
  readonly vcpu: SharedArrayBuffer;
  readonly page: SharedArrayBuffer;
  readonly arg: SharedArrayBuffer;
  readonly pte: SharedArrayBuffer;
}

/** Collects a source's batches into shared columns. */
export function shareGuest(source: GuestSource): SharedGuest {
  let count = 0;
  // Batches may reuse their buffers: each is copied as it comes.
  const chunks: { kind: Uint8Array; dtNs: Uint32Array; vcpu: Uint16Array; page: Int32Array; arg: Int32Array; pte: Int32Array }[] = [];
  const counts: number[] = [];
  const baseNs: number[] = [];
  const endNs: number[] = [];
  drainSync(source.events(), (b) => {
    chunks.push({ kind: b.kind.slice(0, b.count), dtNs: b.dtNs.slice(0, b.count), vcpu: b.vcpu.slice(0, b.count), page: b.page.slice(0, b.count), arg: b.arg.slice(0, b.count), pte: b.pte.slice(0, b.count) });
    counts.push(b.count);
    baseNs.push(b.baseNs);
    endNs.push(b.endNs);
    count += b.count;
  });
  const kind = new Uint8Array(new SharedArrayBuffer(count));
  const dtNs = new Uint32Array(new SharedArrayBuffer(count * 4));
  const vcpu = new Uint16Array(new SharedArrayBuffer(count * 2));
  const page = new Int32Array(new SharedArrayBuffer(count * 4));
  const arg = new Int32Array(new SharedArrayBuffer(count * 4));
  const pte = new Int32Array(new SharedArrayBuffer(count * 4));
  let at = 0;
  for (const c of chunks) {
    kind.set(c.kind, at);
    dtNs.set(c.dtNs, at);
    vcpu.set(c.vcpu, at);
    page.set(c.page, at);
    arg.set(c.arg, at);
    pte.set(c.pte, at);
    at += c.kind.length;
  }
  return {
    header: source.header,
    count,
    batchCounts: counts,
    batchBaseNs: baseNs,
    batchEndNs: endNs,
    kind: kind.buffer as SharedArrayBuffer,
    dtNs: dtNs.buffer as SharedArrayBuffer,
    vcpu: vcpu.buffer as SharedArrayBuffer,
    page: page.buffer as SharedArrayBuffer,
    arg: arg.buffer as SharedArrayBuffer,
    pte: pte.buffer as SharedArrayBuffer,
  };
}

/** A guest source that replays the shared events, batch for batch. */
export function sharedSource(g: SharedGuest, label: string): GuestSource {
  const whole: GuestBatch = {
    count: g.count,
    baseNs: 0,
    endNs: 0,
    kind: new Uint8Array(g.kind),
    dtNs: new Uint32Array(g.dtNs),
    vcpu: new Uint16Array(g.vcpu),
    page: new Int32Array(g.page),
    arg: new Int32Array(g.arg),
    pte: new Int32Array(g.pte),
  };
  const batches: GuestBatch[] = [];
  let at = 0;
  g.batchCounts.forEach((n, i) => {
    batches.push(sliceGuestBatch(whole, at, at + n, g.batchBaseNs[i]!, g.batchEndNs[i]!));
    at += n;
  });
  return { header: g.header, label, events: () => from(batches) };
}
