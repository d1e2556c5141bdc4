import { PTE_A, PTE_D, PTE_NX, PTE_P, PTE_RW, PTE_US, pteClearFlags, pteSetFlags } from '../model/pte.js';
import { Vma, VMA_EXEC, VMA_SHARED, VMA_WRITE, type AddressSpace } from './address-space.js';
import { FrameKind, type GuestFrames } from './guest-frames.js';
import type { GuestVmas } from './guest-vmas.js';
import type { KernelCounters } from './kernel-counters.js';
import type { KernelSpace } from './kernel-space.js';
import type { PageCache } from './page-cache.js';
import type { PageTableWriter } from './page-table-writer.js';

/**
 * Page faults and copy-on-write: how a page of a mapping becomes present,
 * and how fork shares private pages until one side writes (Linux's
 * mm/memory.c: handle_mm_fault, do_anonymous_page, do_fault, do_wp_page,
 * copy_page_range).
 *
 * - Demand paging: the first access to a mapped page faults and maps a
 *   page: a zeroed anonymous page for a write, the shared zero page for a
 *   read, the page-cache page for a file (a private copy of it for a write
 *   to a private mapping). PTE flags are Linux's: user pages carry A; a
 *   page mapped for a write also carries D.
 * - fork copies the parent's PTEs of private writable mappings and shares
 *   them copy-on-write by clearing RW in both (copy_present_pte; the child's
 *   copy is made old). Shared and read-only mappings are not copied: the
 *   child refaults them (copy_page_range skips them; the caller picks).
 * - The first write by either side copies the page through the kernel's
 *   mapping of both frames (copy_user_highpage) unless it has become the
 *   only mapping, which just regains RW (wp_page_reuse).
 */
export class PageFaultHandler {
  constructor(
    private readonly frames: GuestFrames,
    private readonly tables: PageTableWriter,
    private readonly kernelSpace: KernelSpace,
    private readonly pageCache: PageCache,
    private readonly vmas: GuestVmas,
    private readonly counters: KernelCounters,
  ) {}

  /** The mapping of the fault being handled (see faultIn). */
  private readonly vma = new Vma(0, 0, 0, -1, 0);

  /** Makes `vpn` present (and writable for a write); returns the leaf entry index. */
  faultIn(sp: AddressSpace, vcpu: number, vpn: number, write: boolean, tNs: number): number {
    // Into one Vma of the handler's: a fault made an object per lookup
    // (an import's second largest allocation). Its fields are read before
    // anything else can look a mapping up.
    const r = this.vmas.findInto(sp, vpn, this.vma);
    if (!r) throw new Error(`guest kernel bug: process ${sp.pid} touched vpn 0x${(vpn >>> 0).toString(16)} outside its mappings (a segfault)`);
    const vmaFlags = r.flags;
    const obj = r.obj;
    const objPage = r.objPage + (vpn - r.start);
    if (write && (vmaFlags & VMA_WRITE) === 0) {
      throw new Error(`guest kernel bug: process ${sp.pid} wrote read-only vpn 0x${(vpn >>> 0).toString(16)} (a segfault)`);
    }
    const tables = this.tables;
    const frames = this.frames;
    const l1 = tables.ensureLeafTable(sp.rootSlot, vpn, true, vcpu, tNs);
    const idx = vpn & 511;
    const i = (l1 << 9) | idx;
    const pte = tables.entryValue(i);
    const nx = (vmaFlags & VMA_EXEC) !== 0 ? 0 : PTE_NX;
    if ((pte & PTE_P) === 0) {
      let pfn: number;
      let flags = PTE_P | PTE_US | PTE_A | nx;
      if (obj < 0) {
        if (!write) pfn = this.kernelSpace.zeroPfn;
        else {
          pfn = frames.allocUserFrame(FrameKind.anon);
          this.kernelSpace.zeroFrame(vcpu, pfn, tNs);
          flags |= PTE_RW | PTE_D;
        }
      } else {
        const objPfn = this.pageCache.getPage(obj, objPage, vcpu, tNs);
        if ((vmaFlags & VMA_SHARED) !== 0) {
          pfn = objPfn;
          if ((vmaFlags & VMA_WRITE) !== 0) flags |= PTE_RW;
          if (write) flags |= PTE_D;
        } else if (!write) pfn = objPfn;
        else {
          pfn = frames.allocUserFrame(FrameKind.anon);
          this.kernelSpace.copyFrame(vcpu, objPfn, pfn, tNs);
          flags |= PTE_RW | PTE_D;
        }
      }
      frames.markMapped(pfn);
      tables.setEntry(l1, idx, tables.pte(pfn, flags), pfn, vcpu, tNs);
      return i;
    }
    if (!write || (pte & PTE_RW) !== 0) return i;
    // A write to a present read-only page of a writable mapping: copy on write.
    const old = tables.link[i];
    const kind = frames.frameKind[old];
    if ((vmaFlags & VMA_SHARED) !== 0 || (kind === FrameKind.anon && frames.mapCount[old] === 1)) {
      // The only mapping left (or a shared page): just regain RW (wp_page_reuse).
      tables.setEntry(l1, idx, pteSetFlags(pte, PTE_RW | PTE_A | PTE_D), old, vcpu, tNs);
      this.counters.cowReuses++;
      return i;
    }
    const pfn = frames.allocUserFrame(FrameKind.anon);
    if (kind === FrameKind.zero) this.kernelSpace.zeroFrame(vcpu, pfn, tNs);
    else {
      this.kernelSpace.copyFrame(vcpu, old, pfn, tNs);
      this.counters.cowCopies++;
    }
    frames.releaseFrame(old);
    frames.mapCount[pfn] = 1;
    tables.setEntry(l1, idx, tables.pte(pfn, (pte & 0xff) | PTE_RW | PTE_A | PTE_D), pfn, vcpu, tNs);
    return i;
  }

  /** copy_page_range for one mapping: share present pages, write-protecting private ones. */
  copyPageRange(parentRoot: number, childRoot: number, r: Vma, vcpu: number, tNs: number): void {
    const tables = this.tables;
    for (let vpn = r.start; vpn < r.end; ) {
      const chunkEnd = Math.min(r.end, (vpn | 511) + 1);
      const pl1 = tables.findLeafTable(parentRoot, vpn);
      if (pl1 >= 0 && tables.slotPresent[pl1] > 0) {
        let cl1 = -1;
        for (let v = vpn; v < chunkEnd; v++) {
          const idx = v & 511;
          const i = (pl1 << 9) | idx;
          const pte = tables.entryValue(i);
          if ((pte & PTE_P) === 0) continue;
          const pfn = tables.link[i];
          if ((pte & PTE_RW) !== 0) tables.setEntry(pl1, idx, pteClearFlags(pte, PTE_RW), pfn, vcpu, tNs);
          if (cl1 < 0) cl1 = tables.ensureLeafTable(childRoot, v, true, vcpu, tNs);
          tables.setEntry(cl1, idx, pteClearFlags(pte, PTE_RW | PTE_A), pfn, vcpu, tNs);
          this.frames.markMapped(pfn);
        }
      }
      vpn = chunkEnd;
    }
  }
}
