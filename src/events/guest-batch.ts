import { DOUBLE_FIRST } from '../util/double-field.js';

/**
 * A columnar batch of guest events: one typed array per field, one `kind`
 * byte column, time as per-event deltas in integer nanoseconds. A batch is
 * the unit of RxJS emission, of trace chunks and of hashing (DESIGN section 3).
 *
 * Event i happens at baseNs + dtNs[0] + ... + dtNs[i]; baseNs is the time of
 * the event before the batch (0 for the first batch of a stream).
 *
 * A batch handed to a subscriber may live in buffers that its producer reuses
 * for the next batch: it is valid during the synchronous `next` call only.
 * Anything that keeps it across an asynchronous hop must `copyGuestBatch` it.
 */
export interface GuestBatch {
  readonly count: number;
  readonly baseNs: number;
  /** Time of the last event (baseNs when the batch is empty). */
  readonly endNs: number;
  readonly kind: Uint8Array;
  readonly dtNs: Uint32Array;
  readonly vcpu: Uint16Array;
  /** vpn, pfn, ptPfn or rootPfn, by kind. */
  readonly page: Int32Array;
  /** bytes or PTE index, by kind. */
  readonly arg: Int32Array;
  /** The PTE value of a pt_write (src/model/pte.ts layout), 0 otherwise. */
  readonly pte: Int32Array;
}

/** Column names in their fixed order: the order of hashing and of trace chunks. */
export const GUEST_COLUMNS = ['kind', 'dtNs', 'vcpu', 'page', 'arg', 'pte'] as const;

export function allocateGuestBatch(count: number, baseNs = 0, endNs = baseNs): GuestBatch {
  return {
    count,
    baseNs,
    endNs,
    kind: new Uint8Array(count),
    dtNs: new Uint32Array(count),
    vcpu: new Uint16Array(count),
    page: new Int32Array(count),
    arg: new Int32Array(count),
    pte: new Int32Array(count),
  };
}

export function copyGuestBatch(b: GuestBatch): GuestBatch {
  return {
    count: b.count,
    baseNs: b.baseNs,
    endNs: b.endNs,
    kind: b.kind.slice(0, b.count),
    dtNs: b.dtNs.slice(0, b.count),
    vcpu: b.vcpu.slice(0, b.count),
    page: b.page.slice(0, b.count),
    arg: b.arg.slice(0, b.count),
    pte: b.pte.slice(0, b.count),
  };
}

/** Events [from, to) of a batch as a batch of views (no copy); baseNs/endNs are the caller's. */
export function sliceGuestBatch(b: GuestBatch, from: number, to: number, baseNs: number, endNs: number): GuestBatch {
  return {
    count: to - from,
    baseNs,
    endNs,
    kind: b.kind.subarray(from, to),
    dtNs: b.dtNs.subarray(from, to),
    vcpu: b.vcpu.subarray(from, to),
    page: b.page.subarray(from, to),
    arg: b.arg.subarray(from, to),
    pte: b.pte.subarray(from, to),
  };
}

/**
 * One batch made as this module loads, with double times: every GuestBatch
 * literal (these functions', the builders', the trace reader's) then has
 * double baseNs and endNs fields from the first batch on, not a small
 * integer's that V8 widens when times pass 2.1 s, deoptimising every loop
 * that reads a batch (src/util/double-field.ts). Exported so that no
 * bundler drops it.
 */
export const DOUBLE_TIMED_GUEST_BATCH: GuestBatch = allocateGuestBatch(0, DOUBLE_FIRST, DOUBLE_FIRST);
