import { PTE_P } from '../model/pte.js';
import type { AddressSpace, Vma } from './address-space.js';
import type { GuestLayout } from './guest-layout.js';
import type { PageCache } from './page-cache.js';
import type { PageTableWriter } from './page-table-writer.js';

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

  /** The mapping that covers `vpn` (find_vma), or undefined. */
  find(sp: AddressSpace, vpn: number): Vma | undefined {
    return sp.regions.find(vpn);
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
    const dropped = sp.regions.removeRange(vpnStart, end);
    const first = dropped[0];
    const last = dropped[dropped.length - 1];
    const keepFirst = first !== undefined && first.start < vpnStart;
    const keepLast = last !== undefined && last.end > end;
    if (keepFirst) sp.regions.insert(first.start, vpnStart, first.flags, first.obj, first.objPage);
    if (keepLast) sp.regions.insert(end, last.end, last.flags, last.obj, last.objPage + (end - last.start));
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
    if (keepFirst && first.obj >= 0) this.pageCache.addMapRef(first.obj);
    if (keepLast && last.obj >= 0) this.pageCache.addMapRef(last.obj);
    for (const r of dropped) if (r.obj >= 0) this.pageCache.dropMapRef(r.obj);
  }
}
