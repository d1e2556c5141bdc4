import { GuestResourceError } from './guest-resource-error.js';
import { makeP2mMap } from '../model/p2m-map.js';
import { zeroed } from '../util/array-pool.js';

/** Frame kinds, for the allocator's bookkeeping. */
export const FrameKind = {
  free: 0,
  kernel: 1,
  table: 2,
  anon: 3,
  cache: 4,
  zero: 5,
} as const;

/**
 * The guest's physical memory as its kernel sees it: Linux's page
 * allocator (mm/page_alloc.c) reduced to what shows in the event stream,
 * plus what Linux keeps in each struct page that the model needs.
 *
 * - Two free lists, lowmem (direct-mapped, where kernel allocations and
 *   page tables come from) and highmem (GFP_HIGHUSER pages for user memory,
 *   falling back to lowmem). Each is a LIFO stack, so a freed page is the
 *   next one handed out, as the per-CPU page lists do; that reuse decides
 *   which frames a migration sees dirtied again.
 * - Per frame: its kind, its count of user mappings (page->_mapcount), the
 *   frame number written into a PTE for it (its mfn for a PV guest, itself
 *   for HVM), and whether any event has ever written it.
 */
export class GuestFrames {
  /**
   * The frame written into a PTE for each pfn: its mfn (PV); undefined for
   * HVM, whose PTEs hold the pfn itself (an identity array was 4 bytes a
   * guest page).
   */
  readonly frameOfPfn: Int32Array | undefined;
  readonly frameKind: Uint8Array;
  /**
   * User mappings of each frame (leaf PTEs in process tables): 16 bits, as
   * no frame is mapped by 65,535 live address spaces here (markMapped
   * refuses the one that would be).
   */
  readonly mapCount: Uint16Array;
  /**
   * One bit for every frame some event of this kernel has written (a store,
   * a pt_write, a DMA): the frames left clear are zero pages for migration.
   * Marked where a frame is first filled, so the hot path never touches it.
   */
  private readonly writtenBits: Uint32Array;
  /**
   * Direct reclaim (page-cache.ts): called when an allocation finds its
   * zone empty, with whether only direct-mapped frames help; returns the
   * frames it freed. Unset: nothing is reclaimable.
   */
  reclaim: ((lowmemOnly: boolean) => number) | undefined;

  // Frame allocator: two LIFO stacks (lowmem, highmem) of free pfns, so a
  // freed page is the next one handed out, as the per-CPU page lists do. A
  // stack that was never popped below its start is its untouched range,
  // handed out in ascending pfn order (next*): only frames freed since boot
  // are held in an array, so a guest's free memory costs no bytes per page.
  private lowFree: Int32Array = new Int32Array(64);
  private lowTop = 0;
  private nextLow = 0;
  private readonly lowEnd: number;
  private highFree: Int32Array = new Int32Array(64);
  private highTop = 0;
  private nextHigh: number;
  private readonly highEnd: number;

  constructor(
    readonly memPages: number,
    /** Frames the kernel uses (mem=); the rest are never touched. */
    readonly ramPages: number,
    /** Frames below this are direct-mapped (kernel allocations come from here). */
    readonly directMapPages: number,
    pv: boolean,
    seed: number,
  ) {
    this.frameOfPfn = pv ? makeP2mMap(memPages, seed).pfnToMfn : undefined;
    this.frameKind = zeroed(Uint8Array, memPages);
    this.mapCount = zeroed(Uint16Array, memPages);
    this.writtenBits = new Uint32Array(Math.ceil(memPages / 32));
    // Pops return ascending pfns: the kernel's early allocations sit just
    // above its image, as on a freshly booted Linux.
    this.lowEnd = directMapPages;
    this.nextHigh = directMapPages;
    this.highEnd = Math.max(directMapPages, ramPages);
  }

  /** Whether some event has written `pfn` since boot. */
  isWritten(pfn: number): boolean {
    return ((this.writtenBits[pfn >>> 5]! >>> (pfn & 31)) & 1) !== 0;
  }

  /** An event wrote `pfn`: it is no zero page from now on. */
  markWritten(pfn: number): void {
    this.writtenBits[pfn >>> 5] = this.writtenBits[pfn >>> 5]! | (1 << (pfn & 31));
  }

  /** One more user mapping of `pfn`. */
  markMapped(pfn: number): void {
    if (this.mapCount[pfn] === 0xffff) throw new GuestResourceError(`guest kernel: frame ${pfn} is mapped by 65,535 address spaces, the most the model counts`, true);
    this.mapCount[pfn]!++;
  }

  /** Free frames left (lowmem and highmem). */
  get freePages(): number {
    return this.lowTop + this.highTop + (this.lowEnd - this.nextLow) + (this.highEnd - this.nextHigh);
  }

  /** Free frames left in the direct-mapped part of memory. */
  get freeLowPages(): number {
    return this.lowTop + (this.lowEnd - this.nextLow);
  }

  /** A direct-mapped frame (GFP_KERNEL), now of `kind`. */
  allocLow(kind: number): number {
    return this.takeFrame(this.popLowSpecific(), kind);
  }

  /** User pages prefer highmem (GFP_HIGHUSER), then lowmem. */
  allocUserFrame(kind: number): number {
    if (this.highTop === 0 && this.nextHigh === this.highEnd && this.freeLowPages === 0) this.reclaim?.(false);
    if (this.highTop > 0) return this.takeFrame(this.highFree[--this.highTop]!, kind);
    if (this.nextHigh < this.highEnd) return this.takeFrame(this.nextHigh++, kind);
    return this.allocLow(kind);
  }

  /** Frames allocated for the kernel's own use (slab, buffers), direct-mapped. */
  allocKernelPages(count: number): Int32Array {
    const pfns = new Int32Array(count);
    for (let i = 0; i < count; i++) pfns[i] = this.allocLow(FrameKind.kernel);
    return pfns;
  }

  /** Pops the next lowmem frame (boot reserves the image in pfn order). */
  popLowSpecific(): number {
    if (this.lowTop === 0 && this.nextLow === this.lowEnd) this.reclaim?.(true);
    if (this.lowTop > 0) return this.lowFree[--this.lowTop]!;
    if (this.nextLow < this.lowEnd) return this.nextLow++;
    throw this.oom('direct-mapped (lowmem)');
  }

  takeFrame(pfn: number, kind: number): number {
    // mapCount is already 0: a frame is freed only with no user mapping
    // left (releaseFrame, reclaim, shmem's release check), and not writing
    // it keeps the array untouched, so unmapped memory costs it nothing.
    this.frameKind[pfn] = kind;
    return pfn;
  }

  freeFrame(pfn: number): void {
    if (this.frameKind[pfn] === FrameKind.free) throw new Error(`guest kernel bug: double free of pfn ${pfn}`);
    this.frameKind[pfn] = FrameKind.free;
    if (pfn < this.directMapPages) {
      if (this.lowTop === this.lowFree.length) this.lowFree = grown(this.lowFree);
      this.lowFree[this.lowTop++] = pfn;
    } else {
      if (this.highTop === this.highFree.length) this.highFree = grown(this.highFree);
      this.highFree[this.highTop++] = pfn;
    }
  }

  /** Frees a frame the kernel allocated for its own use (a slab page, a buffer). */
  freeKernelPage(pfn: number): void {
    if (this.frameKind[pfn] !== FrameKind.kernel) throw new Error(`guest kernel: pfn ${pfn} is not a kernel page`);
    this.freeFrame(pfn);
  }

  /** One user mapping of `pfn` went away; an anonymous page with none left is freed. */
  releaseFrame(pfn: number): void {
    const kind = this.frameKind[pfn];
    if (kind === FrameKind.zero) return;
    const n = --this.mapCount[pfn];
    if (n < 0) throw new Error(`guest kernel bug: pfn ${pfn} unmapped more often than mapped`);
    if (n === 0 && kind === FrameKind.anon) this.freeFrame(pfn);
  }

  /**
   * Frames no event has written since boot: free frames never used, RAM
   * above mem=, the kernel's zero page, and tables allocated but never
   * filled (their content is zeros too). Migration sends these as zero pages.
   */
  neverWrittenPages(): number {
    let n = 0;
    const bits = this.writtenBits;
    for (let w = 0; w < bits.length; w++) {
      let x = bits[w]!;
      x -= (x >>> 1) & 0x55555555;
      x = (x & 0x33333333) + ((x >>> 2) & 0x33333333);
      n += (((x + (x >>> 4)) & 0x0f0f0f0f) * 0x01010101) >>> 24;
    }
    return this.memPages - n;
  }

  private oom(what: string): GuestResourceError {
    return new GuestResourceError(
      `guest out of ${what} memory: ${this.ramPages} pages of RAM (${this.directMapPages} direct-mapped) are all in use; give the guest more memory (--mem) or ask the workload for less`,
      true,
    );
  }
}

function grown(a: Int32Array): Int32Array {
  const b = new Int32Array(a.length * 2);
  b.set(a);
  return b;
}
