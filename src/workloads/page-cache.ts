import type { GuestBatchBuilder } from '../events/guest-batch-builder.js';
import { NO_VCPU } from '../events/guest-event-kind.js';
import { FrameKind, type GuestFrames } from './guest-frames.js';
import { KERNEL_COSTS_NS, type KernelWork } from './kernel-costs.js';
import type { KernelCounters } from './kernel-counters.js';
import type { KernelSpace } from './kernel-space.js';

/** The referenced bits of every shmem object: none. */
const NO_BITS = new Uint32Array(0);

/**
 * A file's cached pages or a shmem object's pages (Linux's struct
 * address_space of an inode): page index to pfn, -1 for a page not in
 * memory.
 */
export class MemoryObject {
  /**
   * Per page index, its pfn plus one (0: not in memory): zero-based so that
   * the part of a large file never cached is never written and costs no
   * memory (pfnOf and setPfn translate). Null for an object of one page,
   * whose slot is `only` (an array each was one more object per object;
   * one-page shmem objects, an importer's shared frames, have no
   * MemoryObject at all: PageCache.objects).
   */
  private slots: Int32Array | null;
  private only = 0;
  /**
   * File pages: a bit per page, set while the page was used since reclaim
   * last looked at it (Linux's PG_referenced, set by mark_page_accessed).
   * Empty for shmem.
   */
  referenced: Uint32Array;
  /** Mappings (VMAs) that refer to the object; shmem with none left is freed. */
  mapRefs = 0;
  sizeBytes = 0;
  constructor(
    readonly id: number,
    readonly name: string,
    readonly shmem: boolean,
    pages: number,
  ) {
    this.slots = pages > 1 ? new Int32Array(pages) : null;
    // Shmem has no referenced bits: one empty array serves them all.
    this.referenced = shmem ? NO_BITS : new Uint32Array(Math.ceil(Math.max(1, pages) / 32));
  }

  /** The frame holding page `page` (below sizePages), -1 if it is not in memory. */
  pfnOf(page: number): number {
    const s = this.slots;
    return (s === null ? this.only : s[page]!) - 1;
  }

  /** Page `page` is now in frame `pfn` (-1: no longer in memory). */
  setPfn(page: number, pfn: number): void {
    const s = this.slots;
    if (s === null) this.only = pfn + 1;
    else s[page] = pfn + 1;
  }

  /** Marks page `page` used (mark_page_accessed). */
  touch(page: number): void {
    this.referenced[page >>> 5] = this.referenced[page >>> 5]! | (1 << (page & 31));
  }

  /** Whether page `page` was used since the last scan; clears the mark (page_check_references). */
  takeReferenced(page: number): boolean {
    const w = this.referenced[page >>> 5]!;
    const bit = 1 << (page & 31);
    this.referenced[page >>> 5] = w & ~bit;
    return (w & bit) !== 0;
  }

  get sizePages(): number {
    return this.slots === null ? 1 : this.slots.length;
  }
  grow(pages: number): void {
    const size = this.sizePages;
    if (pages <= size) return;
    const next = new Int32Array(Math.max(pages, size * 2));
    if (this.slots === null) next[0] = this.only;
    else next.set(this.slots);
    this.slots = next;
    if (!this.shmem) {
      const referenced = new Uint32Array(Math.ceil(next.length / 32));
      referenced.set(this.referenced);
      this.referenced = referenced;
    }
  }
}

/**
 * The guest's page cache and shared memory: every file the guest opens and
 * every MAP_SHARED|MAP_ANONYMOUS object, with the frames that hold their
 * pages (Linux's mm/filemap.c and mm/shmem.c, reduced to what shows in the
 * event stream).
 *
 * - A file page not cached is read from the virtual disk, whose backend (or
 *   the emulated controller) DMAs it into a fresh frame: a phys_write by no
 *   vCPU, and an I/O wait for the reader.
 * - Reclaim (Linux's mm/vmscan.c, reduced to its page-cache part): when an
 *   allocation finds no free frame in its zone, the allocator reclaims
 *   SWAP_CLUSTER_MAX (32) pages, as direct reclaim does (try_to_free_pages,
 *   shrink_inactive_list, shrink_page_list). File pages are kept on one
 *   list in the order they came into memory (the inactive file LRU); the
 *   scan starts at its oldest end and, per page, as shrink_page_list
 *   decides: a page mapped by a process, or used since the scan last saw it
 *   (PG_referenced, set by every read and write through the cache, as
 *   mark_page_accessed sets it), gets a second chance and goes to the
 *   young end with the bit cleared (page_check_references: activated or
 *   kept); any other page is dropped from the cache and its frame freed
 *   (__remove_mapping). Dropping writes nothing to guest memory, so it is no
 *   event: the frame's next owner writes it. A dirty page (the access log's
 *   tail) is written back first; the writeback is the disk's DMA out of
 *   the guest (no event either) and is taken as done by the time the page
 *   is old enough to be reclaimed (dirty_expire_centisecs, 30 s, is far
 *   shorter than the time a page takes to age here). Kswapd's background
 *   reclaim between the low and high watermarks is not modelled: free
 *   memory runs down to the last frame before anything is reclaimed, which
 *   keeps every run that never fills its memory exactly as it was. Shmem
 *   pages need swap, which the model has none of: never reclaimed.
 * - A shmem page is born zeroed by the kernel (clear_page through its
 *   mapping of the frame), and the object's pages are freed when its last
 *   mapping goes.
 * - write() appending to a file copies into the page at the end of file;
 *   a page past the end is allocated without a disk read.
 */
/** Linux's SWAP_CLUSTER_MAX (include/linux/swap.h): pages one direct reclaim pass tries to free. */
export const SWAP_CLUSTER_MAX = 32;

export class PageCache {
  /**
   * Every memory object by id; null for a one-page shmem object, whose
   * frame and mappings are in onePfn and oneRefs. An importer makes one
   * such object per frame that two processes share, by the hundred
   * thousand in a large capture: an object each was that many heap objects
   * for every major collection to mark, and collections come more often
   * as the capture's state grows (so the marking grew faster than the
   * capture: cachegrind put the collector's last-level misses at 0.51 per
   * guest event at 1x and 1.66 at 4x), and each mmap and fault of a shared
   * page read one more cold object. Two numbers per id in two typed arrays
   * are neither.
   */
  private readonly objects: (MemoryObject | null)[] = [];
  /** One-page shmem objects by id: the page's pfn plus one (0: not in memory). */
  private onePfn = new Int32Array(0);
  /** One-page shmem objects by id: mappings (VMAs) that refer to it. */
  private oneRefs = new Int32Array(0);
  private readonly fileByPath = new Map<string, number>();
  /**
   * The file LRU, oldest first: a ring of runs (object, first page index,
   * pages), each a stretch of one file's pages that came into memory one
   * after another (a file read or written in order, the log's appends), so
   * the list costs memory per run rather than per page. lruPages counts the
   * pages in it.
   */
  private lru = new Int32Array(3 * 256);
  private lruHead = 0;
  private lruRuns = 0;
  private lruPages = 0;
  /** File pages reclaimed so far. */
  pagesReclaimed = 0;

  constructor(
    private readonly frames: GuestFrames,
    private readonly kernelSpace: KernelSpace,
    private readonly out: GuestBatchBuilder,
    private readonly work: KernelWork,
    private readonly counters: KernelCounters,
  ) {
    frames.reclaim = (lowmemOnly) => this.reclaim(lowmemOnly, SWAP_CLUSTER_MAX);
  }

  /**
   * shrink_page_list over the file LRU from its oldest end: frees up to
   * `wanted` unmapped, unreferenced file pages (only direct-mapped ones when
   * `lowmemOnly`, for a lowmem allocation); returns how many it freed. Each
   * page is looked at most twice, so a cache of mapped or busy pages ends
   * the scan rather than looping.
   */
  reclaim(lowmemOnly: boolean, wanted: number): number {
    const frames = this.frames;
    const mapCount = frames.mapCount;
    let freed = 0;
    for (let budget = 2 * this.lruPages; freed < wanted && budget > 0 && this.lruPages > 0; budget--) {
      const [objId, page] = this.lruPop();
      const o = this.objects[objId]!;
      const pfn = o.pfnOf(page);
      if (pfn < 0) continue; // no longer cached: the entry just goes
      const referenced = o.takeReferenced(page);
      if (mapCount[pfn] !== 0 || referenced || (lowmemOnly && pfn >= frames.directMapPages)) {
        // Second chance (or a page of another zone): to the young end.
        this.lruPush(objId, page);
        continue;
      }
      o.setPfn(page, -1);
      frames.freeFrame(pfn);
      freed++;
    }
    this.pagesReclaimed += freed;
    return freed;
  }

  /** A file page came into memory (or got its second chance): it joins the LRU at its young end. */
  private lruPush(objId: number, page: number): void {
    const lru = this.lru;
    const slots = lru.length / 3;
    this.lruPages++;
    if (this.lruRuns > 0) {
      const t = 3 * ((this.lruHead + this.lruRuns - 1) % slots);
      if (lru[t] === objId && lru[t + 1]! + lru[t + 2]! === page) {
        lru[t + 2]!++;
        return;
      }
    }
    if (this.lruRuns === slots) {
      const grown = new Int32Array(lru.length * 2);
      for (let k = 0; k < this.lruRuns; k++) grown.set(lru.subarray(3 * ((this.lruHead + k) % slots), 3 * ((this.lruHead + k) % slots) + 3), 3 * k);
      this.lru = grown;
      this.lruHead = 0;
    }
    const t = 3 * ((this.lruHead + this.lruRuns) % (this.lru.length / 3));
    this.lru[t] = objId;
    this.lru[t + 1] = page;
    this.lru[t + 2] = 1;
    this.lruRuns++;
  }

  /** The oldest page of the LRU, taken off it: [object, page index]. */
  private lruPop(): [number, number] {
    const lru = this.lru;
    const h = 3 * this.lruHead;
    const objId = lru[h]!;
    const page = lru[h + 1]!;
    this.lruPages--;
    if (--lru[h + 2]! === 0) {
      this.lruHead = (this.lruHead + 1) % (lru.length / 3);
      this.lruRuns--;
    } else lru[h + 1] = page + 1;
    return [objId, page];
  }

  /** The page-cache object of a file, created empty (nothing cached) the first time. */
  openFile(path: string, pages: number): number {
    let id = this.fileByPath.get(path);
    if (id === undefined) {
      id = this.objects.length;
      this.objects.push(new MemoryObject(id, path, false, pages));
      this.fileByPath.set(path, id);
    } else this.objects[id]!.grow(pages);
    const o = this.objects[id]!;
    o.sizeBytes = Math.max(o.sizeBytes, pages * 4096);
    return id;
  }

  /** A shared anonymous memory object (MAP_SHARED|MAP_ANONYMOUS: shmem). One of one page keeps no name (nothing reads it). */
  createShmem(name: string, pages: number): number {
    const id = this.objects.length;
    if (pages === 1) {
      if (id >= this.onePfn.length) {
        const n = Math.max(1024, 2 * this.onePfn.length);
        const pfn = new Int32Array(n);
        pfn.set(this.onePfn);
        this.onePfn = pfn;
        const refs = new Int32Array(n);
        refs.set(this.oneRefs);
        this.oneRefs = refs;
      }
      this.objects.push(null);
      return id;
    }
    this.objects.push(new MemoryObject(id, name, true, pages));
    return id;
  }

  /** Pages of a file (or shmem object) currently cached. */
  cachedPages(objId: number): number {
    if (this.objects[objId] === null) return this.onePfn[objId]! > 0 ? 1 : 0;
    const o = this.object(objId);
    let n = 0;
    for (let i = 0; i < o.sizePages; i++) if (o.pfnOf(i) >= 0) n++;
    return n;
  }

  /** Pages of an object (its size, cached or not). */
  sizePagesOf(objId: number): number {
    return this.objects[objId] === null ? 1 : this.object(objId).sizePages;
  }

  /**
   * An object as a MemoryObject. A one-page shmem object gets one made
   * from its two numbers (kept from then on: only growing it, which no
   * caller does to a one-page shmem object, needs it).
   */
  object(objId: number): MemoryObject {
    let o = this.objects[objId];
    if (o === null) {
      o = new MemoryObject(objId, 'shmem', true, 1);
      o.setPfn(0, this.onePfn[objId]! - 1);
      o.mapRefs = this.oneRefs[objId]!;
      this.objects[objId] = o;
    }
    if (!o) throw new Error(`guest kernel: no memory object ${objId}`);
    return o;
  }

  /**
   * The frame holding page `page` of an object, brought in first if it is
   * not in memory: read from disk for a file, zeroed for shmem.
   */
  getPage(objId: number, page: number, vcpu: number, tNs: number): number {
    if (page === 0 && this.objects[objId] === null) {
      const had = this.onePfn[objId]! - 1;
      if (had >= 0) return had;
      const fresh = this.frames.allocUserFrame(FrameKind.cache);
      this.onePfn[objId] = fresh + 1;
      this.kernelSpace.zeroFrame(vcpu, fresh, tNs);
      return fresh;
    }
    const o = this.object(objId);
    if (page >= o.sizePages) o.grow(page + 1);
    let pfn = o.pfnOf(page);
    if (pfn >= 0) {
      if (!o.shmem) o.touch(page);
      return pfn;
    }
    pfn = this.frames.allocUserFrame(FrameKind.cache);
    o.setPfn(page, pfn);
    if (o.shmem) this.kernelSpace.zeroFrame(vcpu, pfn, tNs);
    else {
      this.lruPush(objId, page);
      this.out.physWrite(tNs, NO_VCPU, pfn, 4096);
      this.frames.markWritten(pfn);
      this.work.ns += KERNEL_COSTS_NS.diskReadPage;
      this.counters.diskReads++;
    }
    return pfn;
  }

  /** write() of `bytes` at the end of a file: the kernel copies them into the page-cache pages there. */
  append(vcpu: number, objId: number, bytes: number, tNs: number): void {
    const o = this.object(objId);
    let offset = o.sizeBytes;
    let left = bytes;
    while (left > 0) {
      const page = Math.floor(offset / 4096);
      const chunk = Math.min(left, 4096 - (offset % 4096));
      o.grow(page + 1);
      let pfn = o.pfnOf(page);
      if (pfn < 0) {
        pfn = this.frames.allocUserFrame(FrameKind.cache);
        o.setPfn(page, pfn);
        this.lruPush(objId, page);
      } else o.touch(page);
      this.out.write(tNs, vcpu, this.kernelSpace.kernelVpn(vcpu, pfn, 0, tNs), chunk);
      this.frames.markWritten(pfn);
      this.work.ns += KERNEL_COSTS_NS.kernelAccess;
      offset += chunk;
      left -= chunk;
    }
    o.sizeBytes = offset;
  }

  /** One more mapping refers to the object. */
  addMapRef(objId: number): void {
    if (this.objects[objId] === null) this.oneRefs[objId]!++;
    else this.object(objId).mapRefs++;
  }

  /** Drops one mapping's reference to an object; shmem with no mapping left is freed. */
  dropMapRef(objId: number): void {
    if (this.objects[objId] === null) {
      if (--this.oneRefs[objId]! !== 0) return;
      const pfn = this.onePfn[objId]! - 1;
      if (pfn < 0) return;
      if (this.frames.mapCount[pfn] !== 0) throw new Error(`guest kernel bug: freeing shmem page ${pfn} still mapped ${this.frames.mapCount[pfn]} times`);
      this.onePfn[objId] = 0;
      this.frames.freeFrame(pfn);
      return;
    }
    const o = this.object(objId);
    o.mapRefs--;
    if (o.shmem && o.mapRefs === 0) {
      const mapCount = this.frames.mapCount;
      for (let i = 0; i < o.sizePages; i++) {
        const pfn = o.pfnOf(i);
        if (pfn < 0) continue;
        if (mapCount[pfn] !== 0) throw new Error(`guest kernel bug: freeing shmem page ${pfn} still mapped ${mapCount[pfn]} times`);
        o.setPfn(i, -1);
        this.frames.freeFrame(pfn);
      }
    }
  }
}
