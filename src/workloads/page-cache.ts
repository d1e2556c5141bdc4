import type { GuestBatchBuilder } from '../events/guest-batch-builder.js';
import { NO_VCPU } from '../events/guest-event-kind.js';
import { FrameKind, type GuestFrames } from './guest-frames.js';
import { KERNEL_COSTS_NS, type KernelWork } from './kernel-costs.js';
import type { KernelCounters } from './kernel-counters.js';
import type { KernelSpace } from './kernel-space.js';

/**
 * A file's cached pages or a shmem object's pages (Linux's struct
 * address_space of an inode): page index to pfn, -1 for a page not in
 * memory.
 */
export class MemoryObject {
  pages: Int32Array;
  /** Mappings (VMAs) that refer to the object; shmem with none left is freed. */
  mapRefs = 0;
  sizeBytes = 0;
  constructor(
    readonly id: number,
    readonly name: string,
    readonly shmem: boolean,
    pages: number,
  ) {
    this.pages = new Int32Array(Math.max(1, pages)).fill(-1);
  }
  get sizePages(): number {
    return this.pages.length;
  }
  grow(pages: number): void {
    if (pages <= this.pages.length) return;
    const next = new Int32Array(Math.max(pages, this.pages.length * 2)).fill(-1);
    next.set(this.pages);
    this.pages = next;
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
 *   vCPU, and an I/O wait for the reader. Cached pages stay cached: the
 *   model has no reclaim.
 * - A shmem page is born zeroed by the kernel (clear_page through its
 *   mapping of the frame), and the object's pages are freed when its last
 *   mapping goes.
 * - write() appending to a file copies into the page at the end of file;
 *   a page past the end is allocated without a disk read.
 */
export class PageCache {
  private readonly objects: MemoryObject[] = [];
  private readonly fileByPath = new Map<string, number>();

  constructor(
    private readonly frames: GuestFrames,
    private readonly kernelSpace: KernelSpace,
    private readonly out: GuestBatchBuilder,
    private readonly work: KernelWork,
    private readonly counters: KernelCounters,
  ) {}

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

  /** A shared anonymous memory object (MAP_SHARED|MAP_ANONYMOUS: shmem). */
  createShmem(name: string, pages: number): number {
    const id = this.objects.length;
    this.objects.push(new MemoryObject(id, name, true, pages));
    return id;
  }

  /** Pages of a file (or shmem object) currently cached. */
  cachedPages(objId: number): number {
    const pages = this.object(objId).pages;
    let n = 0;
    for (let i = 0; i < pages.length; i++) if (pages[i] >= 0) n++;
    return n;
  }

  object(objId: number): MemoryObject {
    const o = this.objects[objId];
    if (!o) throw new Error(`guest kernel: no memory object ${objId}`);
    return o;
  }

  /**
   * The frame holding page `page` of an object, brought in first if it is
   * not in memory: read from disk for a file, zeroed for shmem.
   */
  getPage(objId: number, page: number, vcpu: number, tNs: number): number {
    const o = this.object(objId);
    if (page >= o.sizePages) o.grow(page + 1);
    let pfn = o.pages[page];
    if (pfn >= 0) return pfn;
    pfn = this.frames.allocUserFrame(FrameKind.cache);
    o.pages[page] = pfn;
    if (o.shmem) this.kernelSpace.zeroFrame(vcpu, pfn, tNs);
    else {
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
      let pfn = o.pages[page];
      if (pfn < 0) {
        pfn = this.frames.allocUserFrame(FrameKind.cache);
        o.pages[page] = pfn;
      }
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
    this.object(objId).mapRefs++;
  }

  /** Drops one mapping's reference to an object; shmem with no mapping left is freed. */
  dropMapRef(objId: number): void {
    const o = this.object(objId);
    o.mapRefs--;
    if (o.shmem && o.mapRefs === 0) {
      const mapCount = this.frames.mapCount;
      for (let i = 0; i < o.pages.length; i++) {
        const pfn = o.pages[i];
        if (pfn < 0) continue;
        if (mapCount[pfn] !== 0) throw new Error(`guest kernel bug: freeing shmem page ${pfn} still mapped ${mapCount[pfn]} times`);
        o.pages[i] = -1;
        this.frames.freeFrame(pfn);
      }
    }
  }
}
