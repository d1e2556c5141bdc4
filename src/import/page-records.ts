/** The page was listed (B or D) by the capture for this space. */
export const PAGE_LISTED = 1;
/** The page is present and written in the guest process (a private page). */
export const PAGE_PRESENT = 2;
/** A fork gave this space the page (present in the parent at fork). */
export const PAGE_INHERITED = 4;

/** Slots a table starts with (a power of two). */
const INITIAL_SLOTS = 64;
/** Int32s per slot: the key (guest vpn, -1 empty), the shmem object, the frame's low word, its high word with the flags above it. */
const STRIDE = 4;
const SHMEM = 1;
const FRAME_LO = 2;
const FRAME_HI = 3;
/** The frame's high word (a source frame is below 2^52: 20 bits) shares its Int32 with the flags. */
const FLAGS_SHIFT = 24;
const HI_MASK = (1 << FLAGS_SHIFT) - 1;
const WORD = 2 ** 32;

/**
 * What an importer knows of each page of one guest address space, by guest
 * vpn: its source frame (the latest b/d line's; 0 when none was seen), the
 * shmem object it is mapped onto (-1: none) and PAGE_* flags.
 *
 * One open-addressing table (linear probing, at most half full), each
 * slot's fields side by side in 16 bytes of one Int32Array: a page's write
 * finds its slot once and reads and writes every field in the same cache
 * line. Five Maps and Sets keyed by vpn (frame, shmem object, listed,
 * present, inherited) made each page cost five lookups in five tables, a
 * cache miss or more each once a capture's pages outgrew the caches, and a
 * larger capture more of them: import time per MB rose with its size. The
 * fields in four parallel arrays still made a page's first look at its
 * slot four misses, and its holder's frame two more. Entries are never
 * removed (a space that is gone keeps its frames for its children: release
 * clears the rest).
 */
export class PageRecords {
  private data: Int32Array;
  /** Pages with PAGE_LISTED. */
  listed = 0;
  private used = 0;
  private mask: number;

  constructor(slots = INITIAL_SLOTS) {
    this.data = emptySlots(slots);
    this.mask = slots - 1;
  }

  /** The slot of `gvpn` (a guest vpn, 0 or more), or -1 when it has none. */
  find(gvpn: number): number {
    const d = this.data;
    for (let i = hash(gvpn) & this.mask; ; i = (i + 1) & this.mask) {
      const k = d[i * STRIDE]!;
      if (k === gvpn) return i;
      if (k < 0) return -1;
    }
  }

  /** The slot of `gvpn`, made (no frame, no shmem, no flags) if it has none. */
  slot(gvpn: number): number {
    const d = this.data;
    let i = hash(gvpn) & this.mask;
    for (; ; i = (i + 1) & this.mask) {
      const k = d[i * STRIDE]!;
      if (k === gvpn) return i;
      if (k < 0) break;
    }
    if (2 * (this.used + 1) > this.mask + 1) {
      this.grow();
      return this.slot(gvpn);
    }
    d[i * STRIDE] = gvpn;
    this.used++;
    return i;
  }

  /** Slot `i`'s source frame, 0 if none was seen. */
  frame(i: number): number {
    const o = i * STRIDE;
    return (this.data[o + FRAME_HI]! & HI_MASK) * WORD + (this.data[o + FRAME_LO]! >>> 0);
  }

  /** Sets slot `i`'s source frame (below 2^52, as the parser admits). */
  setFrame(i: number, frame: number): void {
    const o = i * STRIDE;
    const d = this.data;
    d[o + FRAME_LO] = frame >>> 0;
    d[o + FRAME_HI] = (d[o + FRAME_HI]! & ~HI_MASK) | Math.floor(frame / WORD);
  }

  /** Slot `i`'s shmem object, -1 if none. */
  shmem(i: number): number {
    return this.data[i * STRIDE + SHMEM]!;
  }

  setShmem(i: number, obj: number): void {
    this.data[i * STRIDE + SHMEM] = obj;
  }

  /** Slot `i`'s PAGE_* flags. */
  flags(i: number): number {
    return this.data[i * STRIDE + FRAME_HI]! >>> FLAGS_SHIFT;
  }

  setFlags(i: number, flags: number): void {
    const o = i * STRIDE + FRAME_HI;
    this.data[o] = (this.data[o]! & HI_MASK) | (flags << FLAGS_SHIFT);
  }

  /** The source frame last seen for `gvpn`, 0 if none. */
  frameOf(gvpn: number): number {
    const i = this.find(gvpn);
    return i < 0 ? 0 : this.frame(i);
  }

  /** Sets PAGE_LISTED on slot `i`, counting the page the first time. */
  list(i: number): void {
    const f = this.flags(i);
    if ((f & PAGE_LISTED) === 0) {
      this.setFlags(i, f | PAGE_LISTED);
      this.listed++;
    }
  }

  /**
   * What fork gives a child from its parent: the parent's frames, shmem
   * objects and present pages, the present pages marked inherited (and no
   * other), as the child's own listed pages stay its own.
   */
  inheritFrom(parent: PageRecords): void {
    const slots = parent.mask + 1;
    if (this.used === 0) {
      this.data = parent.data.slice();
      this.mask = parent.mask;
      this.used = parent.used;
      this.listed = 0;
      for (let i = 0; i < slots; i++) this.setFlags(i, (this.flags(i) & PAGE_PRESENT) !== 0 ? PAGE_PRESENT | PAGE_INHERITED : 0);
      return;
    }
    for (let i = 0; i <= this.mask; i++) this.setFlags(i, this.flags(i) & ~PAGE_INHERITED);
    const pd = parent.data;
    for (let p = 0; p < slots; p++) {
      const key = pd[p * STRIDE]!;
      if (key < 0) continue;
      const i = this.slot(key);
      const frame = parent.frame(p);
      if (frame !== 0) this.setFrame(i, frame);
      const obj = parent.shmem(p);
      if (obj >= 0) this.setShmem(i, obj);
      if ((parent.flags(p) & PAGE_PRESENT) !== 0) this.setFlags(i, this.flags(i) | PAGE_PRESENT | PAGE_INHERITED);
    }
  }

  /** Forgets everything but the frames (a space that is gone). */
  release(): void {
    const d = this.data;
    for (let o = 0; o < d.length; o += STRIDE) {
      d[o + SHMEM] = -1;
      d[o + FRAME_HI] = d[o + FRAME_HI]! & HI_MASK;
    }
    this.listed = 0;
  }

  private grow(): void {
    const old = this.data;
    const n = (this.mask + 1) * 2;
    const d = emptySlots(n);
    const mask = n - 1;
    for (let p = 0; p < old.length; p += STRIDE) {
      const k = old[p]!;
      if (k < 0) continue;
      let i = hash(k) & mask;
      while (d[i * STRIDE]! >= 0) i = (i + 1) & mask;
      const o = i * STRIDE;
      d[o] = k;
      d[o + SHMEM] = old[p + SHMEM]!;
      d[o + FRAME_LO] = old[p + FRAME_LO]!;
      d[o + FRAME_HI] = old[p + FRAME_HI]!;
    }
    this.data = d;
    this.mask = mask;
  }
}

/** `slots` empty slots: key -1, shmem -1, no frame, no flags. */
function emptySlots(slots: number): Int32Array {
  const d = new Int32Array(slots * STRIDE);
  for (let o = 0; o < d.length; o += STRIDE) {
    d[o] = -1;
    d[o + SHMEM] = -1;
  }
  return d;
}

/** Fibonacci hashing: neighbouring vpns land far apart, so runs of them do not pile up in one probe chain. */
function hash(gvpn: number): number {
  return Math.imul(gvpn, 0x9e3779b1) >>> 7;
}
