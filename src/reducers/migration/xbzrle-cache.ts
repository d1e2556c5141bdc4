/**
 * QEMU's XBZRLE (migration/ram.c save_xbzrle_page, migration/xbzrle.c
 * xbzrle_encode_buffer, migration/page_cache.c), without page contents:
 *
 * - The cache (page_cache.c): xbzrle-cache-size / 4096 slots, a power of
 *   two (cache_init refuses anything else), direct-mapped by page
 *   (cache_get_cache_pos: address / page size & (slots - 1)). Each slot
 *   holds one page's copy and an age, the dirty-sync count when it was
 *   last inserted or hit (cache_is_cached updates it on a hit). A miss
 *   inserts the page, unless the slot holds another page that is still
 *   fresh: inserted or hit within the last CACHED_PAGE_LIFETIME (2) syncs
 *   (cache_insert returns -1 then).
 * - A hit encodes the page against its cached copy. The copy is the page as
 *   it was last sent (every send of a cached page updates it: the hit's
 *   memcpy to prev_cached_page, the overflow's, xbzrle_cache_zero_page), so
 *   the difference is what the guest stored since: migsim counts those
 *   bytes from the write events (src/reducers/write-bytes.ts) and the stores
 *   from the oracle (source version less destination version).
 * - xbzrle_encode_buffer writes alternating runs of unchanged and changed
 *   bytes, each run's length as ULEB128, the changed bytes themselves after
 *   their length. Each store since the send is taken as one changed run
 *   (a write event is a store of contiguous bytes), its share of the
 *   changed bytes, with the unchanged bytes spread between them; a page
 *   all of whose stores rewrote the same bytes is counted as changed anyway
 *   (migsim does not know values). Encoded length 0 (nothing changed): the
 *   page is skipped; more than a page (dlen = TARGET_PAGE_SIZE): overflow,
 *   the page goes in full and the cache takes its new contents.
 * - On the wire: the page header (8 bytes), ENCODING_FLAG_XBZRLE (1), the
 *   encoded length as be16 (2), then the encoding.
 * - QEMU uses XBZRLE only once the first pass over memory is done
 *   (rs->xbzrle_started, set when find_dirty_block completes a round; before
 *   that the pages go in full and are not cached) and not at the last stage
 *   (the stop-and-copy sends deltas on hits but updates nothing).
 */
export const CACHED_PAGE_LIFETIME = 2;
const PAGE_BYTES = 4096;
/** ENCODING_FLAG_XBZRLE byte and the be16 length. */
export const XBZRLE_FRAMING_BYTES = 3;

function ulebBytes(n: number): number {
  return n < 0x80 ? 1 : n < 0x4000 ? 2 : 3;
}

/**
 * xbzrle_encode_buffer's output length for a page with `changedBytes` of
 * its 4096 changed in `runs` runs: per run the unchanged run's length, the
 * changed run's length and the changed bytes. -1 when it would not fit in
 * a page (the encoder gives up: overflow). 0 when nothing changed.
 */
export function xbzrleEncodedBytes(changedBytes: number, runs: number): number {
  const changed = Math.min(PAGE_BYTES, changedBytes);
  if (changed <= 0) return 0;
  const r = Math.max(1, Math.min(runs, changed));
  const unchangedRun = Math.floor((PAGE_BYTES - changed) / r);
  const changedRun = Math.ceil(changed / r);
  const encoded = changed + r * (ulebBytes(unchangedRun) + ulebBytes(changedRun));
  return encoded > PAGE_BYTES ? -1 : encoded;
}

/** The cache of pages, keyed by pfn, with its counters. */
export class XbzrleCache {
  readonly slots: number;
  private readonly pfnOf: Int32Array;
  private readonly ageOf: Float64Array;

  constructor(readonly cacheBytes: number) {
    this.slots = Math.floor(cacheBytes / PAGE_BYTES);
    this.pfnOf = new Int32Array(this.slots).fill(-1);
    this.ageOf = new Float64Array(this.slots);
  }

  private slot(pfn: number): number {
    return pfn & (this.slots - 1);
  }

  /** cache_is_cached: a hit refreshes the slot's age. */
  hit(pfn: number, age: number): boolean {
    const s = this.slot(pfn);
    if (this.pfnOf[s] !== pfn) return false;
    this.ageOf[s] = age;
    return true;
  }

  /** cache_insert: false when the slot holds another page still fresh. */
  insert(pfn: number, age: number): boolean {
    const s = this.slot(pfn);
    const held = this.pfnOf[s]!;
    if (held >= 0 && held !== pfn && this.ageOf[s]! + CACHED_PAGE_LIFETIME > age) return false;
    this.pfnOf[s] = pfn;
    this.ageOf[s] = age;
    return true;
  }
}

/** What is wrong with an xbzrle-cache-size, or undefined (QEMU: a power of two of pages, at least one page). */
export function xbzrleCacheSizeProblem(bytes: number): string | undefined {
  const pages = bytes / PAGE_BYTES;
  if (!Number.isInteger(pages) || pages < 1 || (pages & (pages - 1)) !== 0 || pages > 2 ** 28) {
    return `must be a power of two of 4 KiB pages, from 4KiB to 1TiB (QEMU's cache_init: "number of pages is not a power of two"), got ${bytes} bytes`;
  }
  return undefined;
}
