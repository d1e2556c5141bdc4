import { GuestResourceError } from './guest-resource-error.js';
import { makeP2mMap } from '../model/p2m-map.js';

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
  /** The frame written into a PTE for each pfn: its mfn (PV) or itself (HVM). */
  readonly frameOfPfn: Int32Array;
  readonly frameKind: Uint8Array;
  /** User mappings of each frame (leaf PTEs in process tables). */
  readonly mapCount: Int32Array;
  /**
   * 1 for every frame some event of this kernel has written (a store, a
   * pt_write, a DMA): the frames left at 0 are zero pages for migration.
   * Marked where a frame is first filled, so the hot path never touches it.
   */
  readonly written: Uint8Array;

  // Frame allocator: two LIFO stacks (lowmem, highmem) of free pfns, so a
  // freed page is the next one handed out, as the per-CPU page lists do.
  private readonly lowFree: Int32Array;
  private lowTop = 0;
  private readonly highFree: Int32Array;
  private highTop = 0;

  constructor(
    readonly memPages: number,
    /** Frames the kernel uses (mem=); the rest are never touched. */
    readonly ramPages: number,
    /** Frames below this are direct-mapped (kernel allocations come from here). */
    readonly directMapPages: number,
    pv: boolean,
    seed: number,
  ) {
    this.frameOfPfn = new Int32Array(memPages);
    if (pv) this.frameOfPfn.set(makeP2mMap(memPages, seed).pfnToMfn);
    else for (let p = 0; p < memPages; p++) this.frameOfPfn[p] = p;
    this.frameKind = new Uint8Array(memPages);
    this.mapCount = new Int32Array(memPages);
    this.written = new Uint8Array(memPages);

    // Pops return ascending pfns: the kernel's early allocations sit just
    // above its image, as on a freshly booted Linux.
    this.lowFree = new Int32Array(directMapPages);
    this.highFree = new Int32Array(Math.max(0, ramPages - directMapPages));
    for (let p = ramPages - 1; p >= directMapPages; p--) this.highFree[this.highTop++] = p;
    for (let p = directMapPages - 1; p >= 0; p--) this.lowFree[this.lowTop++] = p;
  }

  /** Free frames left (lowmem and highmem). */
  get freePages(): number {
    return this.lowTop + this.highTop;
  }

  /** Free frames left in the direct-mapped part of memory. */
  get freeLowPages(): number {
    return this.lowTop;
  }

  /** A direct-mapped frame (GFP_KERNEL), now of `kind`. */
  allocLow(kind: number): number {
    if (this.lowTop === 0) throw this.oom('direct-mapped (lowmem)');
    return this.takeFrame(this.lowFree[--this.lowTop], kind);
  }

  /** User pages prefer highmem (GFP_HIGHUSER), then lowmem. */
  allocUserFrame(kind: number): number {
    if (this.highTop > 0) return this.takeFrame(this.highFree[--this.highTop], kind);
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
    if (this.lowTop === 0) throw this.oom('direct-mapped (lowmem)');
    return this.lowFree[--this.lowTop];
  }

  takeFrame(pfn: number, kind: number): number {
    this.frameKind[pfn] = kind;
    this.mapCount[pfn] = 0;
    return pfn;
  }

  freeFrame(pfn: number): void {
    if (this.frameKind[pfn] === FrameKind.free) throw new Error(`guest kernel bug: double free of pfn ${pfn}`);
    this.frameKind[pfn] = FrameKind.free;
    if (pfn < this.directMapPages) this.lowFree[this.lowTop++] = pfn;
    else this.highFree[this.highTop++] = pfn;
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
    for (let p = 0; p < this.memPages; p++) if (this.written[p] === 0) n++;
    return n;
  }

  private oom(what: string): GuestResourceError {
    return new GuestResourceError(
      `guest out of ${what} memory: ${this.ramPages} pages of RAM (${this.directMapPages} direct-mapped) are all in use; give the guest more memory (--mem) or ask the workload for less`,
      true,
    );
  }
}
