import { PTE_P } from '../model/pte.js';
import type { AddressSpace, Vma } from './address-space.js';
import type { GuestLayout } from './guest-layout.js';
import type { PageCache } from './page-cache.js';
import type { PageTableWriter } from './page-table-writer.js';
import type { RemovedMapping } from './vma-tree.js';

/**
 * The mappings (VMAs) of every address space: where mmap puts a new one,
 * which one covers a page, and munmap (Linux's mm/mmap.c and mm/vma.c).
 *
 * - Demand paging: mapping a range only records it; no page-table work
 *   happens until a page is touched (the fault handler fills it).
 * - Placement is top-down in the mmap area, below the lowest mapping there,
 *   with a guard page between mappings (get_unmapped_area); a caller can
 *   also ask for a fixed address (what an importer does with the pages a
 *   capture shows).
 * - munmap zaps the range's PTEs and frees the leaf tables no mapping needs
 *   any more (unmap_region, free_pgtables). A mapping cut in two keeps its
 *   object, each piece holding a reference.
 */
export class GuestVmas {
  constructor(
    private readonly layout: GuestLayout,
    private readonly tables: PageTableWriter,
    private readonly pageCache: PageCache,
  ) {}

  /** What each munmap takes out of a tree (reused: one munmap at a time). */
  private readonly dropped = new DroppedMappings();

  /**
   * Adds a mapping of `count` pages with VMA_* `flags`, backed by object
   * `obj` from its page `objPage` (obj -1: anonymous), at `atVpn` or, when
   * omitted, top-down in the mmap area. Returns the first vpn.
   */
  add(sp: AddressSpace, count: number, flags: number, obj: number, objPage: number, atVpn?: number): number {
    if (!(count > 0)) throw new RangeError(`guest kernel: cannot map ${count} pages`);
    let start: number;
    if (atVpn === undefined) {
      start = sp.mmapCursorVpn - count;
      sp.mmapCursorVpn = start - 1; // a guard gap page between mappings
    } else start = atVpn;
    if (!this.layout.isUserVpn(start) || !this.layout.isUserVpn(start + count - 1)) {
      throw new RangeError(`guest kernel: mapping of ${count} pages at vpn ${start} leaves user space`);
    }
    if (this.overlaps(sp, start, start + count)) {
      throw new RangeError(`guest kernel: mapping of ${count} pages at vpn 0x${start.toString(16)} overlaps an existing mapping of process ${sp.pid}`);
    }
    sp.regions.insert(start, start + count, flags, obj, objPage);
    if (obj >= 0) this.pageCache.addMapRef(obj);
    return start;
  }

  /** The mapping that covers `vpn` (find_vma) written into `into` (returned), or undefined: no object made per lookup. */
  findInto(sp: AddressSpace, vpn: number, into: Vma): Vma | undefined {
    return sp.regions.findInto(vpn, into);
  }

  /** True when some mapping of `sp` has a page in [start, end). */
  overlaps(sp: AddressSpace, start: number, end: number): boolean {
    return sp.regions.overlaps(start, end);
  }

  /** munmap: zaps the range's PTEs and frees leaf tables that no mapping needs any more. */
  unmap(sp: AddressSpace, vpnStart: number, count: number, vcpu: number, tNs: number): void {
    const tables = this.tables;
    const end = vpnStart + count;
    // The mappings the range touches are consecutive in start order: the
    // tree takes them out, and the parts of the first and the last that
    // stick out of the range go back in, so an unmap costs the log of the
    // process's mappings and the ones it touches (an importer that moves
    // page after page onto shared frames splits a process into tens of
    // thousands of mappings).
    const dropped = this.dropped;
    dropped.clear();
    sp.regions.removeRange(vpnStart, end, dropped.add);
    const keepFirst = dropped.count > 0 && dropped.firstStart < vpnStart;
    const keepLast = dropped.count > 0 && dropped.lastEnd > end;
    const firstObj = dropped.firstObj;
    const lastObj = dropped.lastObj;
    if (keepFirst) sp.regions.insert(dropped.firstStart, vpnStart, dropped.firstFlags, firstObj, dropped.firstObjPage);
    if (keepLast) sp.regions.insert(end, dropped.lastEnd, dropped.lastFlags, lastObj, dropped.lastObjPage + (end - dropped.lastStart));
    for (let vpn = vpnStart; vpn < end; ) {
      const chunkEnd = Math.min(end, (vpn | 511) + 1);
      const l1 = tables.findLeafTable(sp.rootSlot, vpn);
      if (l1 >= 0) {
        for (let v = vpn; v < chunkEnd; v++) {
          if ((tables.entries[(l1 << 9) | (v & 511)] & PTE_P) !== 0) tables.clearLeaf(l1, v & 511, vcpu, tNs);
        }
        const spanStart = vpn & ~511;
        if (tables.slotPresent[l1] === 0 && !this.overlaps(sp, spanStart, spanStart + 512)) {
          tables.unlinkLeafTable(sp.rootSlot, vpn, l1, vcpu, tNs);
        }
      }
      vpn = chunkEnd;
    }
    // Object references: one per region; the pieces kept take new ones.
    if (keepFirst && firstObj >= 0) this.pageCache.addMapRef(firstObj);
    if (keepLast && lastObj >= 0) this.pageCache.addMapRef(lastObj);
    const objs = dropped.objs;
    for (let k = 0, n = dropped.objCount; k < n; k++) this.pageCache.dropMapRef(objs[k]!);
  }
}

/**
 * What the latest munmap took out of the tree, as numbers kept from call
 * to call: the first and last mappings (the parts of them outside the
 * range go back) and the object of each mapping that had one.
 */
class DroppedMappings {
  count = 0;
  firstStart = 0;
  firstFlags = 0;
  firstObj = -1;
  firstObjPage = 0;
  lastStart = 0;
  lastEnd = 0;
  lastFlags = 0;
  lastObj = -1;
  lastObjPage = 0;
  readonly objs: number[] = [];
  objCount = 0;

  clear(): void {
    this.count = 0;
    this.objCount = 0;
  }

  /** Told of each mapping taken out, in order of start (one function for the kernel's life). */
  readonly add: RemovedMapping = (start, end, flags, obj, objPage) => {
    if (this.count++ === 0) {
      this.firstStart = start;
      this.firstFlags = flags;
      this.firstObj = obj;
      this.firstObjPage = objPage;
    }
    this.lastStart = start;
    this.lastEnd = end;
    this.lastFlags = flags;
    this.lastObj = obj;
    this.lastObjPage = objPage;
    if (obj >= 0) this.objs[this.objCount++] = obj;
  };
}
