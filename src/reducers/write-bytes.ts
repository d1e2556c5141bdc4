import type { GuestBatch } from '../events/guest-batch.js';
import { GuestEventKind } from '../events/guest-event-kind.js';
import { ACCESS_FAULT, ACCESS_WRITE, type MmuOutput } from './mmu-output.js';

/** Counts saturate here: XBZRLE needs no more than a page's worth (4096) to know the delta overflows. */
const SATURATE = 0xffff;
/** A page-table entry is 8 bytes; a hardware A/D update changes one byte of one. */
const PTE_BYTES = 8;
const AD_STORE_BYTES = 1;

/**
 * Bytes the guest stored into each page since the migration last sent it,
 * for XBZRLE (src/reducers/migration/xbzrle-cache.ts): a write's or a
 * phys_write's `bytes`, a pt_write's 8, a hardware A/D update's 1. Kept only
 * when XBZRLE is on (2 bytes a page, allocated zero-filled, so pages never
 * written cost no resident memory); the policy zeroes a page's count when
 * it sends the page. Fed from the MMU's output of exactly the events the
 * tracker took (Simulation.foldChunk), so a write after a send is never
 * counted before it.
 */
export class WriteBytes {
  readonly bytes: Uint16Array;

  constructor(memPages: number) {
    this.bytes = new Uint16Array(memPages);
  }

  /** The stores of events [from, to) of a chunk, as the MMU resolved them. */
  count(chunk: GuestBatch, out: MmuOutput, from: number, to: number): void {
    const bytes = this.bytes;
    const { kind, arg } = chunk;
    const { access, dataPfn, adEvent, adPtPfn, adCount } = out;
    for (let i = from; i < to; i++) {
      const a = access[i]!;
      if ((a & ACCESS_FAULT) !== 0 || (a & ACCESS_WRITE) === 0) continue;
      const pfn = dataPfn[i]!;
      if (pfn < 0) continue;
      const n = kind[i] === GuestEventKind.ptWrite ? PTE_BYTES : arg[i]!;
      bytes[pfn] = Math.min(SATURATE, bytes[pfn]! + n);
    }
    // A/D stores are few and in event order: find those of this range.
    let ad = 0;
    while (ad < adCount && adEvent[ad]! < from) ad++;
    for (; ad < adCount && adEvent[ad]! < to; ad++) {
      const pt = adPtPfn[ad]!;
      bytes[pt] = Math.min(SATURATE, bytes[pt]! + AD_STORE_BYTES);
    }
  }
}
