import type { PagingMode } from '../model/paging.js';

/**
 * Where a captured process's pages go in the guest: a real process's
 * virtual page numbers are 64-bit x86-64 user addresses >> 12 (7f12a00...:
 * up to 36 bits) and do not fit the guest's vpn column (32-bit signed) or
 * a PAE guest's 3 GiB of user space. Each address space is compressed, in
 * order of first appearance, one page-table level at a time:
 *
 *   - each distinct source GiB (page >> 18: what one L2 table maps) gets
 *     the next free guest GiB of user space (x86-64: from 1 GiB up, at most
 *     8,191; PAE: 0, 1, 2);
 *   - each distinct source 2 MiB region (page >> 9: one L1 table) gets the
 *     next free 2 MiB slot of its guest GiB;
 *   - the page keeps its offset within its 2 MiB region.
 *
 * So the guest process has exactly as many leaf tables and as many L2
 * tables as the real one, and pages that were neighbours stay neighbours:
 * locality, the page-table shape and superpage-sized runs all survive.
 * When the guest runs out of GiB slots (PAE, a process spread over more
 * than three GiB), further regions share the first guest GiB with free
 * 2 MiB slots; when those run out too the process does not fit.
 *
 * The map is pure bookkeeping (no guest state) and deterministic: the same
 * pages in the same order give the same guest vpns.
 */
export interface VpnMapGeometry {
  /** First guest GiB of user space given out. */
  readonly firstGib: number;
  /** Guest GiBs available. */
  readonly gibCount: number;
}

const PAGES_PER_GIB = 1 << 18;
const BLOCK_PAGES = 512;

export function vpnMapGeometry(paging: PagingMode): VpnMapGeometry {
  // x86-64: user vpns are 0..2^31-1 (L4 slots 0-15), 8,192 GiB; the first
  // GiB is left unmapped as a real process leaves low memory. PAE: 3 GiB.
  return paging === 'pae' ? { firstGib: 0, gibCount: 3 } : { firstGib: 1, gibCount: 8191 };
}

/** Thrown when an address space has more distinct 2 MiB regions than the guest's user space holds. */
export class VpnSpaceFullError extends Error {
  override readonly name = 'VpnSpaceFullError';
}

export class GuestVpnMap {
  private readonly gibOf: Map<number, number>;
  private readonly blockOf: Map<number, number>;
  /** 2 MiB slots given out per guest GiB (index: guest GiB - firstGib). */
  private readonly slotsUsed: Uint16Array;
  private gibsUsed: number;
  private lastSourceBlock = -1;
  private lastGuestBlock = -1;
  /** True when the latest `map` call gave out a new guest 2 MiB region. */
  newBlock = false;

  constructor(
    readonly geometry: VpnMapGeometry,
    from?: GuestVpnMap,
  ) {
    this.gibOf = new Map(from?.gibOf);
    this.blockOf = new Map(from?.blockOf);
    this.slotsUsed = from ? from.slotsUsed.slice() : new Uint16Array(geometry.gibCount);
    this.gibsUsed = from?.gibsUsed ?? 0;
  }

  /** A copy (fork gives the child its parent's layout). */
  clone(): GuestVpnMap {
    return new GuestVpnMap(this.geometry, this);
  }

  /** Guest 2 MiB regions given out. */
  get blocks(): number {
    return this.blockOf.size;
  }

  /** The guest vpn of source page `page`, giving out its 2 MiB region on first sight. */
  map(page: number): number {
    const block = Math.floor(page / BLOCK_PAGES);
    const offset = page - block * BLOCK_PAGES;
    if (block === this.lastSourceBlock) {
      this.newBlock = false;
      return this.lastGuestBlock * BLOCK_PAGES + offset;
    }
    let guestBlock = this.blockOf.get(block);
    this.newBlock = guestBlock === undefined;
    if (guestBlock === undefined) {
      guestBlock = this.allocate(Math.floor(page / PAGES_PER_GIB));
      this.blockOf.set(block, guestBlock);
    }
    this.lastSourceBlock = block;
    this.lastGuestBlock = guestBlock;
    return guestBlock * BLOCK_PAGES + offset;
  }

  /** The guest vpn of `page` if its region has one, else -1 (never allocates). */
  peek(page: number): number {
    const block = Math.floor(page / BLOCK_PAGES);
    const g = this.blockOf.get(block);
    return g === undefined ? -1 : g * BLOCK_PAGES + (page - block * BLOCK_PAGES);
  }

  private allocate(sourceGib: number): number {
    const { firstGib, gibCount } = this.geometry;
    let gib = this.gibOf.get(sourceGib);
    if (gib === undefined || this.slotsUsed[gib - firstGib] === BLOCK_PAGES) {
      if (gib === undefined && this.gibsUsed < gibCount) gib = firstGib + this.gibsUsed++;
      else {
        // Out of fresh GiBs (or this one is full): the first with a free slot.
        gib = -1;
        for (let i = 0; i < this.gibsUsed; i++) {
          if (this.slotsUsed[i]! < BLOCK_PAGES) {
            gib = firstGib + i;
            break;
          }
        }
        if (gib < 0 && this.gibsUsed < gibCount) gib = firstGib + this.gibsUsed++;
        if (gib < 0) {
          throw new VpnSpaceFullError(
            `the process uses more distinct 2 MiB regions than the guest's user space holds (${(gibCount * BLOCK_PAGES).toLocaleString('en-US')})`,
          );
        }
      }
      this.gibOf.set(sourceGib, gib);
    }
    return gib * BLOCK_PAGES + this.slotsUsed[gib - firstGib]!++;
  }
}
