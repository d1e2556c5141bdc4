/**
 * Page-table formats (DESIGN section 5).
 *
 * Virtual page numbers travel in an Int32 column. For x86-64 the vpn is the
 * 36-bit VA >> 12 sign-extended from bit 31, which is how canonical
 * addresses already behave: user space gets L4 slots 0-15 (8 TiB) and the
 * kernel slots 496-511 (the top 8 TiB, where Linux keeps its text and
 * modules). PAE's 32-bit VA gives a 20-bit vpn.
 *
 * Index extraction per level (level 1 is the leaf table):
 *   x86-64: L4 = (vpn >> 27) & 511, L3 = (vpn >> 18) & 511,
 *           L2 = (vpn >> 9) & 511,  L1 = vpn & 511
 *   PAE:    L3 = (vpn >>> 18) & 3,  L2 = (vpn >>> 9) & 511, L1 = vpn & 511
 */
export type PagingMode = 'x86-64' | 'pae';

export const PAGING_MODES: readonly PagingMode[] = ['x86-64', 'pae'];

export interface PagingFormat {
  readonly mode: PagingMode;
  readonly levels: number;
  /** Entries in a table at each level, index 0 = level 1 (leaf). */
  readonly entriesPerLevel: readonly number[];
}

export const X86_64: PagingFormat = { mode: 'x86-64', levels: 4, entriesPerLevel: [512, 512, 512, 512] };
export const PAE: PagingFormat = { mode: 'pae', levels: 3, entriesPerLevel: [512, 512, 4] };

export function pagingFormat(mode: PagingMode): PagingFormat {
  return mode === 'pae' ? PAE : X86_64;
}

/** Index into the table at `level` (1 = leaf) for `vpn`. */
export function tableIndex(mode: PagingMode, vpn: number, level: number): number {
  if (mode === 'pae') return level === 3 ? (vpn >>> 18) & 3 : (vpn >>> (9 * (level - 1))) & 511;
  return (vpn >> (9 * (level - 1))) & 511;
}

/** Builds a vpn from per-level indices (highest level first). */
export function vpnOf(mode: PagingMode, indices: readonly number[]): number {
  let vpn = 0;
  for (const idx of indices) vpn = vpn * 512 + idx;
  if (mode === 'x86-64' && indices[0]! >= 256) vpn -= 2 ** 36; // canonical upper half
  return vpn | 0;
}

/** Guest kinds: PV runs in direct mode (PTEs hold mfns), HVM's PTEs hold pfns. */
export type GuestType = 'pv' | 'hvm';
export const GUEST_TYPES: readonly GuestType[] = ['pv', 'hvm'];
