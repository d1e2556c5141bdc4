/** The page was listed (B or D) by the capture for this space. */
export const PAGE_LISTED = 1;
/** The page is present and written in the guest process (a private page). */
export const PAGE_PRESENT = 2;
/** A fork gave this space the page (present in the parent at fork). */
export const PAGE_INHERITED = 4;

/** Slots a table starts with (a power of two). */
const INITIAL_SLOTS = 64;

/**
 * What an importer knows of each page of one guest address space, by guest
 * vpn: its source frame (the latest b/d line's; 0 when none was seen), the
 * shmem object it is mapped onto (-1: none) and PAGE_* flags.
 *
 * One open-addressing table (linear probing, at most half full) with the
 * fields in parallel typed arrays: a page's write looks up its slot once
 * and reads and writes every field there. Five Maps and Sets keyed by vpn
 * (frame, shmem object, listed, present, inherited) made each page cost
 * five lookups in five tables, a cache miss or more each once a capture's
 * pages outgrew the caches, and a larger capture more of them: import
 * time per MB rose with its size. Entries are never removed (a space that
 * is gone keeps its frames for its children: release clears the rest).
 */
export class PageRecords {
  private keys: Int32Array;
  frame: Float64Array;
  shmem: Int32Array;
  flags: Uint8Array;
  /** Pages with PAGE_LISTED. */
  listed = 0;
  private used = 0;
  private mask: number;

  constructor(slots = INITIAL_SLOTS) {
    this.keys = new Int32Array(slots).fill(-1);
    this.frame = new Float64Array(slots);
    this.shmem = new Int32Array(slots).fill(-1);
    this.flags = new Uint8Array(slots);
    this.mask = slots - 1;
  }

  /** The slot of `gvpn` (a guest vpn, 0 or more), or -1 when it has none. */
  find(gvpn: number): number {
    const keys = this.keys;
    for (let i = hash(gvpn) & this.mask; ; i = (i + 1) & this.mask) {
      const k = keys[i]!;
      if (k === gvpn) return i;
      if (k < 0) return -1;
    }
  }

  /** The slot of `gvpn`, made (no frame, no shmem, no flags) if it has none. */
  slot(gvpn: number): number {
    const keys = this.keys;
    let i = hash(gvpn) & this.mask;
    for (; ; i = (i + 1) & this.mask) {
      const k = keys[i]!;
      if (k === gvpn) return i;
      if (k < 0) break;
    }
    if (2 * (this.used + 1) > keys.length) {
      this.grow();
      return this.slot(gvpn);
    }
    keys[i] = gvpn;
    this.used++;
    return i;
  }

  /** The source frame last seen for `gvpn`, 0 if none. */
  frameOf(gvpn: number): number {
    const i = this.find(gvpn);
    return i < 0 ? 0 : this.frame[i]!;
  }

  /** Sets PAGE_LISTED on slot `i`, counting the page the first time. */
  list(i: number): void {
    const f = this.flags[i]!;
    if ((f & PAGE_LISTED) === 0) {
      this.flags[i] = f | PAGE_LISTED;
      this.listed++;
    }
  }

  /**
   * What fork gives a child from its parent: the parent's frames, shmem
   * objects and present pages, the present pages marked inherited (and no
   * other), as the child's own listed pages stay its own.
   */
  inheritFrom(parent: PageRecords): void {
    if (this.used === 0) {
      this.keys = parent.keys.slice();
      this.frame = parent.frame.slice();
      this.shmem = parent.shmem.slice();
      this.flags = parent.flags.map((f) => ((f & PAGE_PRESENT) !== 0 ? PAGE_PRESENT | PAGE_INHERITED : 0));
      this.mask = parent.mask;
      this.used = parent.used;
      this.listed = 0;
      return;
    }
    for (let i = 0; i < this.flags.length; i++) this.flags[i] = this.flags[i]! & ~PAGE_INHERITED;
    const keys = parent.keys;
    for (let p = 0; p < keys.length; p++) {
      if (keys[p]! < 0) continue;
      const i = this.slot(keys[p]!);
      if (parent.frame[p]! !== 0) this.frame[i] = parent.frame[p]!;
      if (parent.shmem[p]! >= 0) this.shmem[i] = parent.shmem[p]!;
      if ((parent.flags[p]! & PAGE_PRESENT) !== 0) this.flags[i] = this.flags[i]! | PAGE_PRESENT | PAGE_INHERITED;
    }
  }

  /** Forgets everything but the frames (a space that is gone). */
  release(): void {
    this.shmem.fill(-1);
    this.flags.fill(0);
    this.listed = 0;
  }

  private grow(): void {
    const { keys, frame, shmem, flags } = this;
    const n = keys.length * 2;
    this.keys = new Int32Array(n).fill(-1);
    this.frame = new Float64Array(n);
    this.shmem = new Int32Array(n).fill(-1);
    this.flags = new Uint8Array(n);
    this.mask = n - 1;
    for (let p = 0; p < keys.length; p++) {
      const k = keys[p]!;
      if (k < 0) continue;
      let i = hash(k) & this.mask;
      while (this.keys[i]! >= 0) i = (i + 1) & this.mask;
      this.keys[i] = k;
      this.frame[i] = frame[p]!;
      this.shmem[i] = shmem[p]!;
      this.flags[i] = flags[p]!;
    }
  }
}

/** Fibonacci hashing: neighbouring vpns land far apart, so runs of them do not pile up in one probe chain. */
function hash(gvpn: number): number {
  return Math.imul(gvpn, 0x9e3779b1) >>> 7;
}
