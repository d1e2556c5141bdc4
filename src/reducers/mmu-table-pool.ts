import { zeroed } from '../util/array-pool.js';

/**
 * Storage for the contents of guest page-table pages, for the MMU reducer
 * (src/reducers/mmu.ts): one big growable Int32Array cut into 512-entry
 * slots, and an Int32Array from page to slot, so that a page walk is a few
 * typed-array loads and never a Map lookup (DESIGN performance notes).
 *
 * Slot 0 is never handed out and stays all-zero: a page that holds no entries
 * maps to it, so a walk that reaches a table the guest never wrote reads
 * not-present entries there without a special case.
 *
 * Two indexes lead to a slot. `slotOfPfn` is by pseudo-physical frame, the
 * way events name pages. `slotOfFrame` is by the frame a PTE holds: the same
 * array for an HVM guest, but indexed by machine frame for a PV guest, whose
 * PTEs hold mfns (Xen's direct mode), so the walker goes from an entry to the
 * next table in one load. There, -1 marks a machine frame the guest does not
 * own.
 *
 * A guest of more than 2^24 frames (an HVM guest over 64 GiB) has PTEs of two
 * words (src/model/pte.ts): `entryHigh` keeps each entry's high word, a byte
 * beside it. Its `slotOfFrame` is then an index of its own that stays all
 * zero: the walk loops, which read one word, find no table there and hand
 * every walk to the MMU's general walker, which reads both.
 */
export const TABLE_ENTRIES = 512;
export const TABLE_SHIFT = 9;

const INITIAL_SLOTS = 64;

export class TablePool {
  /** Slot s holds entries [s << TABLE_SHIFT, (s + 1) << TABLE_SHIFT). Replaced when the pool grows. */
  entries: Int32Array;
  /** The pfn each slot in use belongs to. */
  pfnOfSlot: Int32Array;
  /** Nonzero entries per slot, so a slot can be released once its page is all zero. */
  nonzeroEntries: Int16Array;
  /**
   * PV only: beside each entry, the pfn its frame (an mfn) stands for, or -1,
   * written with the entry. The walker reads it next to the entry instead of
   * looking the mfn up in the m2p, a table twice the guest's size whose random
   * lines missed the cache (14 ns a walk). Valid for entries written since
   * the slot was handed out; the walker reads it for present entries only.
   */
  entryPfn: Int32Array | undefined;
  /** Guests over 2^24 frames only: beside each entry, its frame's bits 24 and up. Replaced when the pool grows. */
  entryHigh: Uint8Array | undefined;
  readonly slotOfPfn: Int32Array;
  readonly slotOfFrame: Int32Array;

  private readonly pfnToMfn: Int32Array | undefined;
  private freeSlots: Int32Array;
  private freeCount = 0;
  private nextSlot = 1;
  private capacitySlots: number;
  private inUse = 0;

  /** `pfnToMfn` is given for a PV guest (frames in PTEs are mfns), with `frameLimit` host frames. */
  constructor(memPages: number, frameLimit: number, pfnToMfn?: Int32Array, wideFrames = false) {
    this.capacitySlots = Math.min(INITIAL_SLOTS, memPages + 1);
    this.entries = zeroed(Int32Array, this.capacitySlots << TABLE_SHIFT);
    this.pfnOfSlot = zeroed(Int32Array, this.capacitySlots).fill(-1);
    this.nonzeroEntries = new Int16Array(this.capacitySlots);
    this.freeSlots = zeroed(Int32Array, this.capacitySlots);
    this.slotOfPfn = zeroed(Int32Array, memPages);
    this.pfnToMfn = pfnToMfn;
    this.entryPfn = pfnToMfn ? zeroed(Int32Array, this.entries.length) : undefined;
    this.entryHigh = wideFrames ? new Uint8Array(this.entries.length) : undefined;
    if (wideFrames) {
      // Never written, so never backed by memory: the walk loops index it
      // with a frame's low 24 bits, read 0 (a table that holds nothing) and
      // leave the walk to walkGeneral.
      this.slotOfFrame = new Int32Array(2 ** 24);
    } else if (pfnToMfn) {
      this.slotOfFrame = new Int32Array(frameLimit).fill(-1);
      for (let p = 0; p < memPages; p++) this.slotOfFrame[pfnToMfn[p]!] = 0;
    } else {
      this.slotOfFrame = this.slotOfPfn;
    }
  }

  /** Entry `offset` as one number (src/model/pte.ts pteValue): both its words. */
  entryValue(offset: number): number {
    const low = this.entries[offset]!;
    const high = this.entryHigh === undefined ? 0 : this.entryHigh[offset]!;
    return high === 0 ? low : (low >>> 0) + high * 2 ** 32;
  }

  /** Stores entry `offset` given as one number (its Int32 and, for a wide guest, its high word). */
  setEntryValue(offset: number, pte: number): void {
    this.entries[offset] = pte | 0;
    if (this.entryHigh !== undefined) this.entryHigh[offset] = pte < 2 ** 32 ? 0 : Math.floor(pte / 2 ** 32);
  }

  /** Slots holding a page's entries (excluding the shared zero slot). */
  get slotsInUse(): number {
    return this.inUse;
  }

  /** Gives `pfn` (which must have no slot) an all-zero slot of its own. */
  alloc(pfn: number): number {
    let slot: number;
    if (this.freeCount > 0) slot = this.freeSlots[--this.freeCount]!;
    else {
      if (this.nextSlot === this.capacitySlots) this.grow();
      slot = this.nextSlot++;
    }
    this.pfnOfSlot[slot] = pfn;
    this.slotOfPfn[pfn] = slot;
    if (this.pfnToMfn) this.slotOfFrame[this.pfnToMfn[pfn]!] = slot;
    this.inUse++;
    return slot;
  }

  /** Returns an all-zero slot to the pool; its page reads as empty through slot 0 again. */
  free(slot: number): void {
    const pfn = this.pfnOfSlot[slot]!;
    this.slotOfPfn[pfn] = 0;
    if (this.pfnToMfn) this.slotOfFrame[this.pfnToMfn[pfn]!] = 0;
    this.pfnOfSlot[slot] = -1;
    this.freeSlots[this.freeCount++] = slot;
    this.inUse--;
  }

  private grow(): void {
    const capacity = this.capacitySlots * 2;
    const entries = zeroed(Int32Array, capacity << TABLE_SHIFT);
    entries.set(this.entries);
    const pfnOfSlot = zeroed(Int32Array, capacity).fill(-1);
    pfnOfSlot.set(this.pfnOfSlot);
    const nonzero = new Int16Array(capacity);
    nonzero.set(this.nonzeroEntries);
    const freeSlots = zeroed(Int32Array, capacity);
    freeSlots.set(this.freeSlots.subarray(0, this.freeCount));
    if (this.entryHigh) {
      const entryHigh = new Uint8Array(capacity << TABLE_SHIFT);
      entryHigh.set(this.entryHigh);
      this.entryHigh = entryHigh;
    }
    if (this.entryPfn) {
      const entryPfn = zeroed(Int32Array, capacity << TABLE_SHIFT);
      entryPfn.set(this.entryPfn);
      this.entryPfn = entryPfn;
    }
    this.entries = entries;
    this.pfnOfSlot = pfnOfSlot;
    this.nonzeroEntries = nonzero;
    this.freeSlots = freeSlots;
    this.capacitySlots = capacity;
  }
}
