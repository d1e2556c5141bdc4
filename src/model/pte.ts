/**
 * The page-table entry as migsim stores it: one Int32 per entry, and for a
 * guest of more than 64 GiB a second, narrow word beside it.
 *
 * Real x86 PTEs are 64-bit (PAE and long mode alike) with the frame in bits
 * 12..51 and NX in bit 63. We keep the bits the design models in the low byte
 * and the frame above them, so an entry fits an Int32 and a whole table is an
 * Int32Array of 512. The Int32 holds 24 bits of frame (bits 30 and 31
 * included: readers take the frame with `>>> 8`, so an entry with bit 31 set
 * is a negative Int32 and still one machine word): 16 Mi frames, a 64 GiB
 * guest. A larger HVM guest's frames (up to 2^30, 4 TiB) keep their bits
 * above 24 in a second word: `PTE_HIGH_SHIFT` places them in a pt_write
 * event's `arg` column, above the entry's index (so the event, and the
 * trace, stay six columns of 32 bits), and the MMU keeps them in a byte per
 * entry (mmu-table-pool.ts, entryHigh). Inside one function the two words
 * travel as one number, frame * 256 + flags (`pteValue`), exact in a double;
 * its flags still read with `&` (which takes the low 32 bits). Until 0.1.0
 * the frame field held 22 bits (16 GiB); an entry of a guest of that size is
 * the same 32 bits and the same event in every layout since, so traces of
 * such guests did not change.
 *
 *   bit 0 P    present
 *   bit 1 RW   writable
 *   bit 2 US   user
 *   bit 3 A    accessed (hardware sets it on a walk)
 *   bit 4 D    dirty (hardware sets it on the leaf for a write)
 *   bit 5 PS   superpage (an L2 entry maps 2 MiB, an L3 entry 1 GiB)
 *   bit 6 NX   no-execute
 *   bit 7 SW   software bit (a Xen-reserved slot; canonicalisation drops it)
 *   bits 8..31 frame, low 24 bits: an mfn for PV guests (direct mode), a pfn for HVM
 *   high word: frame bits 24..29 (HVM guests over 64 GiB only)
 */
export const PTE_P = 1 << 0;
export const PTE_RW = 1 << 1;
export const PTE_US = 1 << 2;
export const PTE_A = 1 << 3;
export const PTE_D = 1 << 4;
export const PTE_PS = 1 << 5;
export const PTE_NX = 1 << 6;
export const PTE_SW = 1 << 7;

export const PTE_FLAG_BITS = 8;
export const PTE_FLAGS_MASK = (1 << PTE_FLAG_BITS) - 1;
/** Frame bits in the entry's Int32. */
export const PTE_FRAME_BITS = 24;
/** Frames the Int32 alone holds (a 64 GiB guest): above, an entry needs its high word. */
export const NARROW_FRAMES = 2 ** PTE_FRAME_BITS;
/** Frames a PTE can name at all, with its high word: 2^30, a 4 TiB guest. */
export const MAX_FRAMES = 2 ** 30;
/** A pt_write's `arg` is the entry's index | the frame's high bits << PTE_HIGH_SHIFT. */
export const PTE_HIGH_SHIFT = 9;
/** 2^32: the weight of the high word in a pteValue. */
const WORD = 2 ** 32;

/**
 * The entry naming `frame` with `flags`, as one number: the Int32 itself
 * for a frame below 2^23, frame * 256 + flags (a double) above, whose low
 * 32 bits (`| 0`) are the Int32 and whose high word is pteHigh.
 */
export function makePte(frame: number, flags: number): number {
  flags &= PTE_FLAGS_MASK;
  return frame < 0x80_0000 ? (frame << PTE_FLAG_BITS) | flags : frame * 256 + flags;
}

/** The frame of an entry given as its Int32 or as a pteValue. */
export function pteFrame(pte: number): number {
  return pte < WORD ? pte >>> PTE_FLAG_BITS : Math.floor(pte / 256);
}

/** The high word of an entry given as a pteValue: its frame's bits 24 and up (0 for a narrow one). */
export function pteHigh(pte: number): number {
  return pte < WORD ? 0 : Math.floor(pte / WORD);
}

/** One number for an entry's two words: the Int32 as stored, and its high word. */
export function pteValue(low: number, high: number): number {
  return high === 0 ? low : (low >>> 0) + high * WORD;
}

export function pteFlags(pte: number): number {
  return pte & PTE_FLAGS_MASK;
}

/** The entry (one number, either form) with `bits` (flags) set: added, since `|` would cut a pteValue to 32 bits. */
export function pteSetFlags(pte: number, bits: number): number {
  return pte + (bits & ~pte & PTE_FLAGS_MASK);
}

/** The entry (one number, either form) with `bits` (flags) clear. */
export function pteClearFlags(pte: number, bits: number): number {
  return pte - (pte & bits & PTE_FLAGS_MASK);
}
