import { WIDENING_CHUNK, WideningUint32 } from '../util/widening-uint32.js';
import { LogDirtyBitmap } from './logdirty-bitmap.js';
import { zeroed } from '../util/array-pool.js';

/**
 * The oracle of DESIGN section 8: nothing may be lost. Every store bumps the
 * source page's version; sending a page copies its version to the
 * destination. At resume every page's destination version must equal the
 * source's, or the migration lost a write that the tracker never reported.
 *
 * Memory: the source's versions are a flat Uint32 per page (the EPT loop
 * bumps them on every store: one indexed add, src/reducers/ept-run.ts), 4
 * bytes resident for each page the guest writes and none for pages it never
 * touches. The destination's are written only when a page is sent, so they
 * live in widening chunks (src/util/widening-uint32.ts): nothing for a
 * chunk of pages never written (version 0 sent as 0), one byte a page while
 * the chunk's versions stay under 256. A version counts one page's stores
 * and stays 32 bits wide, as before: it wraps after 2^32 stores to one page.
 */
/** Told of each page `send` copies (a fleet's query-migrate figures: src/fleet/migration-figures.ts). */
export interface SendWatch {
  sent(pfn: number): void;
}

export class PageOracle {
  readonly srcVersion: Uint32Array;
  /** The version each page had when last sent (0: never sent, or sent unwritten). */
  readonly dstVersion: WideningUint32;
  /**
   * A watcher of `send`, set by whoever hands this oracle to a policy and
   * keeps figures of it. A field of the class, not a wrapper object: an
   * oracle used as a wrapper's prototype gets a map of its own in V8, and
   * sixteen of them made every access to an oracle megamorphic (a fleet
   * folded its guests at half the speed of single runs).
   */
  sendWatch: SendWatch | undefined = undefined;

  constructor(readonly memPages: number) {
    this.srcVersion = zeroed(Uint32Array, memPages);
    this.dstVersion = new WideningUint32(memPages);
  }

  /** The destination receives the current contents of `pfn`. */
  send(pfn: number): void {
    this.dstVersion.set(pfn, this.srcVersion[pfn]!);
    const w = this.sendWatch;
    if (w !== undefined) w.sent(pfn);
  }

  /**
   * Sends every page set in a bitmap copy (a pass of dirty pages); returns
   * how many. With `previous`, also counts the pages set in both (a round's
   * dirty set against the one before), in the same scan.
   */
  sendBitmap(bits: Uint32Array, previous?: Uint32Array): { sent: number; shared: number } {
    // A round's bitmap is mostly zeros (apache: about 660 dirty pages in
    // 8,192 words), so the scan is the cost: eight words are tested at once.
    const src = this.srcVersion;
    const dst = this.dstVersion;
    const limit = this.memPages;
    const words = bits.length;
    let n = 0;
    let shared = 0;
    for (let w = 0; w < words; w += 8) {
      if (w + 8 <= words && (bits[w]! | bits[w + 1]! | bits[w + 2]! | bits[w + 3]! | bits[w + 4]! | bits[w + 5]! | bits[w + 6]! | bits[w + 7]!) === 0) continue;
      const end = Math.min(w + 8, words);
      for (let u = w; u < end; u++) {
        let v = bits[u]!;
        if (v !== 0 && previous !== undefined) {
          let both = v & previous[u]!;
          // The pages below memPages only: the bitmap's tail word may hold more bits.
          while (both !== 0) {
            if (((u << 5) | (31 - Math.clz32(both & -both))) < limit) shared++;
            both &= both - 1;
          }
        }
        while (v !== 0) {
          const pfn = (u << 5) | (31 - Math.clz32(v & -v));
          if (pfn < limit) {
            dst.set(pfn, src[pfn]!);
            n++;
          }
          v &= v - 1;
        }
      }
    }
    return { sent: n, shared };
  }

  sendAll(): void {
    this.dstVersion.copyFrom(this.srcVersion);
  }

  /**
   * Calls `stale(pfn)` for each page whose destination version differs
   * from the source's, in pfn order; chunk by chunk, a chunk whose pages
   * all match in one compare of its bytes.
   */
  private forEachStale(stale: (pfn: number) => void): void {
    const s = this.srcVersion;
    const d = this.dstVersion;
    for (let k = 0; k < d.chunkCount; k++) {
      // Most chunks hold no stale page: one native compare each.
      if (d.chunkEquals(k, s)) continue;
      const first = k * WIDENING_CHUNK;
      const end = Math.min(first + WIDENING_CHUNK, this.memPages);
      const c = d.chunk(k);
      if (c === undefined) {
        for (let p = first; p < end; p++) if (s[p] !== 0) stale(p);
      } else {
        for (let p = first; p < end; p++) if (s[p] !== c[p - first]) stale(p);
      }
    }
  }

  /** Pages whose destination copy is stale, in pfn order (at most `limit` listed). */
  divergent(limit = 16): { count: number; first: number[] } {
    let count = 0;
    const first: number[] = [];
    this.forEachStale((p) => {
      if (first.length < limit) first.push(p);
      count++;
    });
    return { count, first };
  }

  /**
   * Post-copy's switch: every page not in `missing` must already be current
   * on the destination (the stale ones are counted, the first 16 listed);
   * from here on the destination is authoritative, and the missing pages
   * reach it with the contents they had at the switch.
   */
  switchToDestination(missing: Uint32Array, limit = 16): { count: number; first: number[] } {
    let count = 0;
    const first: number[] = [];
    this.forEachStale((p) => {
      if ((missing[p >>> 5]! & (1 << (p & 31))) === 0) {
        count++;
        if (first.length < limit) first.push(p);
      }
    });
    this.dstVersion.copyFrom(this.srcVersion);
    return { count, first };
  }

  /** Bitmap of pages written at least once (non-zero pages cost a full send). */
  writtenBitmap(): LogDirtyBitmap {
    const b = new LogDirtyBitmap(this.memPages);
    for (let p = 0; p < this.memPages; p++) if (this.srcVersion[p] !== 0) b.mark(p);
    return b;
  }
}
