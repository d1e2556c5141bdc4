/**
 * The page-table entry as migsim stores it: one Int32 per entry.
 *
 * Real x86 PTEs are 64-bit (PAE and long mode alike) with the frame in bits
 * 12..51 and NX in bit 63. We keep the bits the design models in the low byte
 * and the frame above them, so an entry fits an Int32 and a whole table is an
 * Int32Array of 512. The frame field holds 24 bits (bits 30 and 31 included:
 * readers take the frame with `>>> 8`, so an entry with bit 31 set is a
 * negative Int32 and still one machine word), so frames are limited to
 * 16 Mi: a 64 GiB HVM guest, or a 32 GiB PV guest, whose host is modelled
 * with twice its frames. The CLI checks it (guest-config.ts). Until 0.1.0
 * the field held 22 bits (16 GiB); an entry of a guest of that size is the
 * same 32 bits in both layouts, so traces of such guests did not change.
 *
 *   bit 0 P    present
 *   bit 1 RW   writable
 *   bit 2 US   user
 *   bit 3 A    accessed (hardware sets it on a walk)
 *   bit 4 D    dirty (hardware sets it on the leaf for a write)
 *   bit 5 PS   superpage (an L2 entry maps 2 MiB, an L3 entry 1 GiB)
 *   bit 6 NX   no-execute
 *   bit 7 SW   software bit (a Xen-reserved slot; canonicalisation drops it)
 *   bits 8..31 frame: an mfn for PV guests (direct mode), a pfn for HVM
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
export const PTE_FRAME_BITS = 24;
export const MAX_FRAMES = 1 << PTE_FRAME_BITS;

export function makePte(frame: number, flags: number): number {
  return (frame << PTE_FLAG_BITS) | (flags & PTE_FLAGS_MASK);
}

export function pteFrame(pte: number): number {
  return pte >>> PTE_FLAG_BITS;
}

export function pteFlags(pte: number): number {
  return pte & PTE_FLAGS_MASK;
}
