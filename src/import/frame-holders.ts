/** Slots a table starts with (a power of two). */
const INITIAL_SLOTS = 1024;
/** 2^32, to split frames and pages (up to 52 bits) into two Int32 words. */
const WORD = 2 ** 32;
/** Int32s per slot: the frame's low and high words (0 and 0: empty), the page's two words, the guest vpn, the shmem object, the holding space's index. */
const STRIDE = 8;
const FRAME_HI = 1;
const PAGE_LO = 2;
const PAGE_HI = 3;
const GVPN = 4;
const OBJ = 5;
const SPACE = 6;

/**
 * Who holds each source frame an importer has seen (rtdirty's b/d lines):
 * the address space and page (source page and guest vpn) the frame was
 * last seen under, and the shmem object made for it once it was found
 * shared (-1 until then). The importer asks it for every page with a frame.
 *
 * One open-addressing table (linear probing, at most half full) keyed by
 * frame, each slot's fields side by side in 32 bytes of one Int32Array
 * (the holding space as an index into a short array of spaces): finding a
 * frame and reading its holder touch one slot, where a field per array
 * made a frame's first look five cache misses, more of them as a capture,
 * and so the table, outgrew the caches. A Map of one small object per
 * frame, before that, made every frame of a capture an object (with a heap
 * number for its page, beyond 31 bits) that every major collection
 * traced. Entries are never removed, as the Map's were not (a frame's
 * holder is replaced, or found stale by the caller).
 */
export class FrameHolders<S> {
  private data: Int32Array;
  /** The holding spaces, by the index a slot keeps. */
  private readonly spaces: S[] = [];
  private readonly spaceIndex = new Map<S, number>();
  private used = 0;
  private mask: number;

  constructor(slots = INITIAL_SLOTS) {
    this.data = new Int32Array(slots * STRIDE);
    this.mask = slots - 1;
  }

  /** Frames held. */
  get size(): number {
    return this.used;
  }

  /** The slot of `frame` (above 0), or -1 when it has no holder. */
  find(frame: number): number {
    const d = this.data;
    const lo = frame | 0;
    const hi = Math.floor(frame / WORD);
    for (let i = hash(lo, hi) & this.mask; ; i = (i + 1) & this.mask) {
      const o = i * STRIDE;
      const klo = d[o]!;
      const khi = d[o + FRAME_HI]!;
      if (klo === lo && khi === hi) return i;
      if (klo === 0 && khi === 0) return -1;
    }
  }

  /** The space holding slot `i`'s frame. */
  space(i: number): S {
    return this.spaces[this.data[i * STRIDE + SPACE]!]!;
  }

  /** Its source page there. */
  page(i: number): number {
    const o = i * STRIDE;
    return this.data[o + PAGE_HI]! * WORD + (this.data[o + PAGE_LO]! >>> 0);
  }

  /** Its guest vpn there. */
  gvpn(i: number): number {
    return this.data[i * STRIDE + GVPN]!;
  }

  /** The shmem object made for slot `i`'s frame, -1 while it is not shared. */
  obj(i: number): number {
    return this.data[i * STRIDE + OBJ]!;
  }

  setObj(i: number, obj: number): void {
    this.data[i * STRIDE + OBJ] = obj;
  }

  /** `frame` (above 0, below 2^52) is now held by `space` at `page` / `gvpn`, not shared (obj -1). Returns its slot. */
  set(frame: number, space: S, page: number, gvpn: number): number {
    if (!(frame > 0)) throw new RangeError(`FrameHolders: frame ${frame} is not above 0`);
    let i = this.find(frame);
    if (i < 0) {
      if (2 * (this.used + 1) > this.mask + 1) this.grow();
      const lo = frame | 0;
      const hi = Math.floor(frame / WORD);
      i = hash(lo, hi) & this.mask;
      while (!this.empty(i)) i = (i + 1) & this.mask;
      this.data[i * STRIDE] = lo;
      this.data[i * STRIDE + FRAME_HI] = hi;
      this.used++;
    }
    let s = this.spaceIndex.get(space);
    if (s === undefined) {
      s = this.spaces.length;
      this.spaces.push(space);
      this.spaceIndex.set(space, s);
    }
    const o = i * STRIDE;
    const d = this.data;
    d[o + PAGE_LO] = page | 0;
    d[o + PAGE_HI] = Math.floor(page / WORD);
    d[o + GVPN] = gvpn;
    d[o + OBJ] = -1;
    d[o + SPACE] = s;
    return i;
  }

  private empty(i: number): boolean {
    return this.data[i * STRIDE] === 0 && this.data[i * STRIDE + FRAME_HI] === 0;
  }

  private grow(): void {
    const old = this.data;
    const n = (this.mask + 1) * 2;
    this.data = new Int32Array(n * STRIDE);
    this.mask = n - 1;
    for (let p = 0; p < old.length; p += STRIDE) {
      const lo = old[p]!;
      const hi = old[p + FRAME_HI]!;
      if (lo === 0 && hi === 0) continue;
      let i = hash(lo, hi) & this.mask;
      while (!this.empty(i)) i = (i + 1) & this.mask;
      for (let k = 0; k < STRIDE; k++) this.data[i * STRIDE + k] = old[p + k]!;
    }
  }
}

/** Fibonacci hashing of the frame's two 32-bit halves: neighbouring frames land far apart. */
function hash(lo: number, hi: number): number {
  return Math.imul(lo ^ Math.imul(hi, 0x85ebca6b), 0x9e3779b1) >>> 7;
}
