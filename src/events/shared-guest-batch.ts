import type { GuestBatch } from './guest-batch.js';

/**
 * A guest batch copied once into one SharedArrayBuffer, so that several
 * worker threads read the same events without a copy each (compare runs
 * every tracker on the events generated, or decoded, once). The columns sit
 * in the buffer widest first, each at an offset its type aligns to:
 * dtNs, page, arg, pte (4 bytes an event), vcpu (2), kind (1).
 * Readers must not write to it: it is every simulation's input at once.
 */
export interface SharedGuestBatch {
  readonly count: number;
  readonly baseNs: number;
  readonly endNs: number;
  readonly buffer: SharedArrayBuffer;
}

const BYTES_PER_EVENT = 4 * 4 + 2 + 1;

/**
 * Copies a batch into `into` when it has room (a buffer every reader is
 * done with: fresh memory costs a page fault per 4 KiB as it is first
 * written, about what the copy itself costs), else into a new buffer.
 * The views depend on the count only, so a buffer may be larger.
 */
export function shareGuestBatch(b: GuestBatch, into?: SharedArrayBuffer): SharedGuestBatch {
  const n = b.count;
  const bytes = Math.max(n * BYTES_PER_EVENT, 1);
  const buffer = into && into.byteLength >= bytes ? into : new SharedArrayBuffer(bytes);
  const v = guestBatchOfShared({ count: n, baseNs: b.baseNs, endNs: b.endNs, buffer });
  v.dtNs.set(b.dtNs.subarray(0, n));
  v.page.set(b.page.subarray(0, n));
  v.arg.set(b.arg.subarray(0, n));
  v.pte.set(b.pte.subarray(0, n));
  v.vcpu.set(b.vcpu.subarray(0, n));
  v.kind.set(b.kind.subarray(0, n));
  return { count: n, baseNs: b.baseNs, endNs: b.endNs, buffer };
}

/** The batch as typed-array views of its shared buffer (no copy). */
export function guestBatchOfShared(s: SharedGuestBatch): GuestBatch {
  const n = s.count;
  const buf = s.buffer;
  return {
    count: n,
    baseNs: s.baseNs,
    endNs: s.endNs,
    dtNs: new Uint32Array(buf, 0, n),
    page: new Int32Array(buf, 4 * n, n),
    arg: new Int32Array(buf, 8 * n, n),
    pte: new Int32Array(buf, 12 * n, n),
    vcpu: new Uint16Array(buf, 16 * n, n),
    kind: new Uint8Array(buf, 18 * n, n),
  };
}
