/** Slots a table starts with (a power of two). */
const INITIAL_SLOTS = 1024;
/** 2^32, to hash the high bits of a frame number (source frames can pass 32 bits). */
const WORD = 2 ** 32;

/**
 * Who holds each source frame an importer has seen (rtdirty's b/d lines):
 * the address space and page (source page and guest vpn) the frame was
 * last seen under, and the shmem object made for it once it was found
 * shared (-1 until then). The importer asks it for every page with a frame.
 *
 * One open-addressing table (linear probing, at most half full) keyed by
 * frame, its fields in parallel typed arrays, the holding spaces in one
 * array beside them. A Map of one small object per frame made every frame
 * of a capture an object (with a heap number for its page, beyond 31
 * bits) that every major collection traced: a heap, and a collection cost
 * per MB of capture, that rose with the capture. Entries are never
 * removed, as the Map's were not (a frame's holder is replaced, or found
 * stale by the caller).
 */
export class FrameHolders<S> {
  /** Frame numbers (all above 0); 0: empty slot. */
  private keys: Float64Array;
  /** The address space holding each frame. */
  space: (S | null)[];
  /** Its source page there. */
  page: Float64Array;
  /** Its guest vpn there. */
  gvpn: Int32Array;
  /** The shmem object made for the frame, -1 while it is not shared. */
  obj: Int32Array;
  private used = 0;
  private mask: number;

  constructor(slots = INITIAL_SLOTS) {
    this.keys = new Float64Array(slots);
    this.space = new Array<S | null>(slots).fill(null);
    this.page = new Float64Array(slots);
    this.gvpn = new Int32Array(slots);
    this.obj = new Int32Array(slots);
    this.mask = slots - 1;
  }

  /** Frames held. */
  get size(): number {
    return this.used;
  }

  /** The slot of `frame` (above 0), or -1 when it has no holder. */
  find(frame: number): number {
    const keys = this.keys;
    for (let i = hash(frame) & this.mask; ; i = (i + 1) & this.mask) {
      const k = keys[i]!;
      if (k === frame) return i;
      if (k === 0) return -1;
    }
  }

  /** `frame` (above 0) is now held by `space` at `page` / `gvpn`, not shared (obj -1). Returns its slot. */
  set(frame: number, space: S, page: number, gvpn: number): number {
    if (!(frame > 0)) throw new RangeError(`FrameHolders: frame ${frame} is not above 0`);
    let i = this.find(frame);
    if (i < 0) {
      if (2 * (this.used + 1) > this.keys.length) this.grow();
      i = hash(frame) & this.mask;
      while (this.keys[i]! !== 0) i = (i + 1) & this.mask;
      this.keys[i] = frame;
      this.used++;
    }
    this.space[i] = space;
    this.page[i] = page;
    this.gvpn[i] = gvpn;
    this.obj[i] = -1;
    return i;
  }

  private grow(): void {
    const { keys, space, page, gvpn, obj } = this;
    const n = keys.length * 2;
    this.keys = new Float64Array(n);
    this.space = new Array<S | null>(n).fill(null);
    this.page = new Float64Array(n);
    this.gvpn = new Int32Array(n);
    this.obj = new Int32Array(n);
    this.mask = n - 1;
    for (let p = 0; p < keys.length; p++) {
      const k = keys[p]!;
      if (k === 0) continue;
      let i = hash(k) & this.mask;
      while (this.keys[i]! !== 0) i = (i + 1) & this.mask;
      this.keys[i] = k;
      this.space[i] = space[p]!;
      this.page[i] = page[p]!;
      this.gvpn[i] = gvpn[p]!;
      this.obj[i] = obj[p]!;
    }
  }
}

/** Fibonacci hashing of the frame's two 32-bit halves: neighbouring frames land far apart. */
function hash(frame: number): number {
  return Math.imul((frame >>> 0) ^ Math.imul(Math.floor(frame / WORD) | 0, 0x85ebca6b), 0x9e3779b1) >>> 7;
}
