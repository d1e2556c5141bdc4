import type { GuestBatchBuilder } from '../events/guest-batch-builder.js';
import { NO_VCPU } from '../events/guest-event-kind.js';
import { PTE_A, PTE_D, PTE_NX, PTE_P, PTE_PS, PTE_RW } from '../model/pte.js';
import { FrameKind, type GuestFrames } from './guest-frames.js';
import type { GuestLayout } from './guest-layout.js';
import { KERNEL_COSTS_NS, type KernelWork } from './kernel-costs.js';
import type { KernelCounters } from './kernel-counters.js';
import { FLAGS_KERNEL_TABLE, FLAGS_PAE_PDPTE, type PageTableWriter } from './page-table-writer.js';

/** A kernel data page (PAGE_KERNEL): already accessed and dirty, never executable. */
const FLAGS_KERNEL_PAGE = PTE_P | PTE_RW | PTE_A | PTE_D | PTE_NX;
/** Kernel text (PAGE_KERNEL_EXEC). */
const FLAGS_KERNEL_TEXT = PTE_P | PTE_RW | PTE_A | PTE_D;
/** A 2 MiB page of the direct map (PAGE_KERNEL_LARGE). */
const FLAGS_KERNEL_LARGE = FLAGS_KERNEL_PAGE | PTE_PS;

/**
 * Kernel space: the half of every address space that belongs to the kernel,
 * built once at boot under the swapper's root and shared by every process,
 * and the ways the kernel itself reaches memory through it.
 *
 * What it follows:
 * - Kernel mappings are Linux's: a direct map of RAM in 2 MiB pages on
 *   x86-64 HVM (largeDirectMap), with 4 KiB L1 tables on PV (Xen PV cannot
 *   use superpages) and PAE, entries made with PAGE_KERNEL, which
 *   already carries A and D (arch/x86 __PAGE_KERNEL). That is why most leaf
 *   PTEs of a booted guest carry A, D and RW (seed 000). Modules sit in the
 *   vmalloc area, x86-64 maps the kernel image a second time
 *   (__START_KERNEL_map), and a fixmap holds two kmap_atomic slots per vCPU.
 * - Kernel tables are shared by every address space: on x86-64 each pgd
 *   points at the same kernel L3s; on PAE PV Xen needs a private copy of
 *   the L2 that maps the top GiB in every pgd (SHARED_KERNEL_PMD is 0),
 *   filled from the master before it is linked.
 * - PAE pgds preallocate their user L2s (arch/x86/mm/pgtable.c
 *   PREALLOCATED_PMDS), so a PAE address space has one L3 and four L2s
 *   (three for HVM, whose kernel L2 is shared).
 * - pgd_free empties the root before it goes (a PAE PV pgd's kernel L2
 *   copy is unlinked, then cleared), so a root that is no longer loaded and
 *   holds no entry is seen to be dead.
 * - The kernel reaches a lowmem frame through the direct map and a highmem
 *   frame through a per-vCPU kmap_atomic slot whose PTE it points at the
 *   frame first; clear_page and copy_user_highpage go the same way.
 */
export class KernelSpace {
  /** The swapper's root (init_mm's pgd): the kernel half every pgd copies. */
  swapperRoot = -1;
  /** The shared zero page that read faults on anonymous memory map. */
  zeroPfn = -1;
  private booted = false;
  /** PAE: the master kernel L2 (swapper's); x86-64: unused. */
  private masterKernelL2 = -1;
  /** Leaf tables of the fixmap: two kmap slots per vCPU, 512 slots per table. */
  private readonly fixmapL1: Int32Array;
  private readonly kmapPfn: Int32Array;
  /** Kernel data pages: [0] global (jiffies, xtime), then one per-CPU page per vCPU. */
  private readonly kernelDataPfn: Int32Array;
  private modulePfns = new Int32Array(0);
  private readonly levels: number;
  private readonly directMapPages: number;
  /** The direct map's vpn for pfn 0. */
  private readonly directMapVpn: number;
  /**
   * The direct map is made of 2 MiB pages (PS entries in L2 tables, a tail
   * of less than 2 MiB in 4 KiB pages), as Linux's
   * kernel_physical_mapping_init maps it (arch/x86/mm/init_64.c
   * phys_pmd_init with page_size_mask's PG_LEVEL_2M, set by
   * probe_page_size_mask on any CPU with PSE; 1 GiB pages need GBPAGES,
   * which a Xen HVM guest is not always offered), for every x86-64 HVM
   * guest whatever its size. PV keeps 4 KiB pages: Xen does not let a PV
   * guest map superpages. PAE HVM keeps them too (its 3-level layout has
   * no 2 MiB direct map in the model). A 4 KiB direct map is a pt_write
   * and 4 bytes of table per guest page in the guest and in the MMU alike
   * (about 12 bytes of run state per guest page with the events), which a
   * Linux guest on a CPU with PSE does not have.
   */
  readonly largeDirectMap: boolean;

  constructor(
    private readonly layout: GuestLayout,
    private readonly pv: boolean,
    vcpus: number,
    private readonly imagePages: number,
    private readonly modulePages: number,
    private readonly frames: GuestFrames,
    private readonly tables: PageTableWriter,
    private readonly out: GuestBatchBuilder,
    private readonly work: KernelWork,
    private readonly counters: KernelCounters,
  ) {
    this.levels = layout.levels;
    this.directMapPages = frames.directMapPages;
    this.directMapVpn = layout.directMapVpn;
    this.largeDirectMap = !pv && layout.levels === 4;
    this.kmapPfn = new Int32Array(vcpus * 2).fill(-1);
    this.fixmapL1 = new Int32Array(Math.ceil((vcpus * 2) / 512)).fill(-1);
    this.kernelDataPfn = new Int32Array(1 + vcpus);
  }

  /**
   * The loader copies the kernel image (and initrd) into pfns 0.. before the
   * kernel runs: Xen's domain builder for PV, the boot loader for HVM. Not
   * through the guest's MMU: phys_write by no vCPU, one page every
   * `nsPerPage`. Returns the time the last page lands.
   */
  loadImage(tNs: number, nsPerPage: number): number {
    let t = tNs;
    for (let p = 0; p < this.imagePages; p++) {
      this.out.physWrite(t, NO_VCPU, p, 4096);
      this.frames.markWritten(p);
      t += nsPerPage;
    }
    return t - nsPerPage;
  }

  /**
   * start_kernel's page-table part on `vcpu`: reserve the image, build the
   * kernel page tables (direct map, module area, fixmap) under the
   * swapper's root. Nothing is loaded yet.
   */
  buildTables(vcpu: number, tNs: number): void {
    if (this.booted) throw new Error('guest kernel: boot() called twice');
    this.booted = true;
    const L = this.layout;
    const frames = this.frames;
    const tables = this.tables;
    // The image occupies pfns [0, imagePages); the loader wrote it.
    for (let i = 0; i < this.imagePages; i++) frames.takeFrame(frames.popLowSpecific(), FrameKind.kernel);
    this.zeroPfn = frames.allocLow(FrameKind.zero);
    for (let i = 0; i < this.kernelDataPfn.length; i++) this.kernelDataPfn[i] = frames.allocLow(FrameKind.kernel);

    const root = (this.swapperRoot = tables.allocTable(this.levels, vcpu, tNs));
    // Allocate every kernel table first, so the direct map can map each
    // table page read-only from the start (PV).
    const dm = L.directMapVpn;
    const directL1Slot = tables.directL1Slot;
    const firstL1 = this.largeDirectMap ? Math.floor(this.directMapPages / 512) : 0;
    for (let c = firstL1; c < directL1Slot.length; c++) {
      directL1Slot[c] = tables.ensureLeafTable(root, dm + c * 512, false, vcpu, tNs);
    }
    const vmalloc = L.vmallocVpn(this.directMapPages);
    for (let p = 0; p < this.modulePages; p += 512) tables.ensureLeafTable(root, vmalloc + p, false, vcpu, tNs);
    for (let i = 0; i < this.fixmapL1.length; i++) this.fixmapL1[i] = tables.ensureLeafTable(root, L.fixmapVpn + i * 512, false, vcpu, tNs);
    if (L.imageVpn !== -1) {
      for (let p = 0; p < this.imagePages; p += 512) tables.ensureLeafTable(root, L.imageVpn + p, false, vcpu, tNs);
    }
    if (this.levels === 3) this.masterKernelL2 = tables.link[(root << 9) | 3];
    // x86-64: make sure every kernel root slot has its L3, so each pgd can share it.
    if (this.levels === 4) {
      for (const s of L.kernelRootSlots) {
        if (tables.link[(root << 9) | s] < 0) {
          const t3 = tables.allocTable(3, vcpu, tNs);
          tables.setEntry(root, s, tables.pte(tables.slotPfn[t3], FLAGS_KERNEL_TABLE), t3, vcpu, tNs);
        }
      }
    }

    // The direct map itself.
    let p4k = 0;
    if (this.largeDirectMap) {
      for (; p4k + 512 <= this.directMapPages; p4k += 512) {
        const l2 = tables.ensureTable(root, dm + p4k, 2, false, vcpu, tNs);
        tables.setEntry(l2, ((dm + p4k) >> 9) & 511, tables.pte(p4k, FLAGS_KERNEL_LARGE), -1, vcpu, tNs);
      }
    }
    for (let p = p4k; p < this.directMapPages; p++) {
      const slot = directL1Slot[p >> 9];
      const writable = !(this.pv && frames.frameKind[p] === FrameKind.table);
      tables.setEntry(slot, p & 511, tables.pte(p, writable ? FLAGS_KERNEL_PAGE : FLAGS_KERNEL_PAGE & ~PTE_RW), p, vcpu, tNs);
    }
    // Kernel image alias (x86-64's __START_KERNEL_map).
    if (L.imageVpn !== -1) {
      for (let p = 0; p < this.imagePages; p++) {
        const vpn = L.imageVpn + p;
        const l1 = tables.findLeafTable(root, vpn);
        tables.setEntry(l1, vpn & 511, tables.pte(p, FLAGS_KERNEL_TEXT), p, vcpu, tNs);
      }
    }
    // Modules in the vmalloc area: fresh kernel pages, written as they load.
    const modules = (this.modulePfns = new Int32Array(this.modulePages));
    for (let i = 0; i < this.modulePages; i++) {
      const pfn = frames.allocLow(FrameKind.kernel);
      const vpn = vmalloc + i;
      const l1 = tables.findLeafTable(root, vpn);
      tables.setEntry(l1, vpn & 511, tables.pte(pfn, FLAGS_KERNEL_TEXT), pfn, vcpu, tNs);
      modules[i] = pfn;
    }
  }

  /**
   * start_kernel's last memory step, once the swapper's root is loaded: the
   * kernel initialises its static data and per-CPU areas, and the modules
   * are written as they load.
   */
  initialiseData(vcpu: number, tNs: number): void {
    for (let i = 0; i < this.kernelDataPfn.length; i++) this.kernelWrite(i === 0 ? vcpu : i - 1, this.kernelDataPfn[i], 4096, tNs);
    const vmalloc = this.layout.vmallocVpn(this.directMapPages);
    const modules = this.modulePfns;
    for (let i = 0; i < modules.length; i++) {
      this.out.write(tNs, vcpu, vmalloc + i, 4096);
      this.frames.markWritten(modules[i]!);
    }
  }

  /**
   * pgd_alloc: a root with the kernel's entries, plus (PAE) the
   * preallocated user L2s and, for PV, the pgd's own copy of the kernel L2,
   * filled from the master before it is linked.
   */
  pgdAlloc(vcpu: number, tNs: number): number {
    if (!this.booted) throw new Error('guest kernel: boot() must run before processes exist');
    const tables = this.tables;
    const root = tables.allocTable(this.levels, vcpu, tNs);
    const rootBase = this.swapperRoot << 9;
    if (this.levels === 3) {
      for (let i = 0; i < 3; i++) {
        const l2 = tables.allocTable(2, vcpu, tNs);
        tables.setEntry(root, i, tables.pte(tables.slotPfn[l2], FLAGS_PAE_PDPTE), l2, vcpu, tNs);
      }
      let kl2 = this.masterKernelL2;
      if (this.pv) {
        kl2 = tables.allocTable(2, vcpu, tNs);
        const src = this.masterKernelL2 << 9;
        for (let i = 0; i < 512; i++) {
          const e = tables.entryValue(src + i);
          if ((e & PTE_P) !== 0) tables.setEntry(kl2, i, e, tables.link[src + i], vcpu, tNs);
        }
      }
      tables.setEntry(root, 3, tables.pte(tables.slotPfn[kl2], FLAGS_PAE_PDPTE), kl2, vcpu, tNs);
    } else {
      for (const s of this.layout.kernelRootSlots) {
        tables.setEntry(root, s, tables.entryValue(rootBase + s), tables.link[rootBase + s], vcpu, tNs);
      }
    }
    return root;
  }

  /**
   * pgd_free, after the user tables are gone: clears the kernel entries
   * (PAE PV: unlinks the pgd's kernel L2 copy, clears it, frees it), then
   * frees the root itself.
   */
  pgdFree(root: number, vcpu: number, tNs: number): void {
    const tables = this.tables;
    const base = root << 9;
    if (this.levels === 3) {
      const kl2 = tables.link[base + 3];
      tables.clearEntry(root, 3, vcpu, tNs);
      if (this.pv && kl2 >= 0) {
        for (let i = 0; i < 512; i++) if ((tables.entries[(kl2 << 9) | i] & PTE_P) !== 0) tables.clearEntry(kl2, i, vcpu, tNs);
        tables.freeTable(kl2, vcpu, tNs);
      }
    } else {
      for (const s of this.layout.kernelRootSlots) if ((tables.entries[base + s] & PTE_P) !== 0) tables.clearEntry(root, s, vcpu, tNs);
    }
    tables.freeTable(root, vcpu, tNs);
  }

  /** The kernel's virtual page for `pfn` in its direct map, or -1 for highmem. */
  directMapVpnOf(pfn: number): number {
    return pfn < this.directMapPages ? this.layout.directMapVpn + pfn : -1;
  }

  /** The frames of the kernel's static data: [0] global, then one per-CPU page per vCPU. */
  kernelDataPage(index: number): number {
    return this.kernelDataPfn[index];
  }

  /** A kernel store to a direct-mapped or kmapped frame (a slab object, a buffer). */
  kernelWrite(vcpu: number, pfn: number, bytes: number, tNs: number): number {
    if (this.pv && this.frames.frameKind[pfn] === FrameKind.table) {
      throw new Error(`guest kernel bug: store to page-table page ${pfn} through its read-only direct-map alias (use pt_write)`);
    }
    const vpn = pfn < this.directMapPages ? this.directMapVpn + pfn : this.kernelVpn(vcpu, pfn, 0, tNs);
    this.out.write(tNs, vcpu, vpn, bytes);
    this.frames.markWritten(pfn);
    return tNs + KERNEL_COSTS_NS.kernelAccess;
  }

  kernelRead(vcpu: number, pfn: number, tNs: number): number {
    this.out.read(tNs, vcpu, pfn < this.directMapPages ? this.directMapVpn + pfn : this.kernelVpn(vcpu, pfn, 0, tNs));
    return tNs + KERNEL_COSTS_NS.kernelAccess;
  }

  /** clear_page of a fresh frame (a demand-zero page, a new shmem page). */
  zeroFrame(vcpu: number, pfn: number, tNs: number): void {
    this.out.write(tNs, vcpu, this.kernelVpn(vcpu, pfn, 0, tNs), 4096);
    this.frames.markWritten(pfn);
    this.work.ns += KERNEL_COSTS_NS.pageZero;
    this.counters.zeroFills++;
  }

  /** copy_user_highpage: reads `from` through one kmap slot, writes `to` through the other. */
  copyFrame(vcpu: number, from: number, to: number, tNs: number): void {
    this.out.read(tNs, vcpu, this.kernelVpn(vcpu, from, 0, tNs));
    this.out.write(tNs, vcpu, this.kernelVpn(vcpu, to, 1, tNs), 4096);
    this.frames.markWritten(to);
    this.work.ns += KERNEL_COSTS_NS.pageCopy;
  }

  /**
   * The kernel's virtual page for a frame: the direct map for lowmem, a
   * per-vCPU kmap_atomic slot (KM_USER0/KM_USER1) for highmem, whose PTE the
   * kernel points at the frame first.
   */
  kernelVpn(vcpu: number, pfn: number, km: number, tNs: number): number {
    if (pfn < this.directMapPages) return this.layout.directMapVpn + pfn;
    const slotIdx = vcpu * 2 + km;
    if (this.kmapPfn[slotIdx] !== pfn) {
      this.kmapPfn[slotIdx] = pfn;
      this.tables.setEntry(this.fixmapL1[slotIdx >> 9], slotIdx & 511, this.tables.pte(pfn, FLAGS_KERNEL_PAGE), pfn, vcpu, tNs);
    }
    return this.layout.fixmapVpn + slotIdx;
  }
}
