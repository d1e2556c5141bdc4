import { GuestResourceError } from './guest-resource-error.js';
import type { GuestBatchBuilder } from '../events/guest-batch-builder.js';
import { DOUBLE_FIRST } from '../util/double-field.js';
import type { GuestType, PagingMode } from '../model/paging.js';
import { maxGuestPages } from '../model/guest-config.js';
import { PTE_A, PTE_D, PTE_P, PTE_RW } from '../model/pte.js';
import { deriveStream } from '../random/derive-stream.js';
import { VMA_EXEC, VMA_SHARED, VMA_WRITE } from './address-space.js';
import { GuestFrames } from './guest-frames.js';
import { guestLayout, type GuestLayout } from './guest-layout.js';
import { GuestProcesses, KERNEL_PID } from './guest-processes.js';
import type { ProcessLayout, ProgramImage } from './guest-program.js';
import { GuestVmas } from './guest-vmas.js';
import { KERNEL_COSTS_NS, KernelWork } from './kernel-costs.js';
import { newKernelCounters, type KernelCounters } from './kernel-counters.js';
import { KernelSpace } from './kernel-space.js';
import { PageCache } from './page-cache.js';
import { PageFaultHandler } from './page-fault-handler.js';
import { PageTableWriter, type TableCensus } from './page-table-writer.js';

export { FrameKind } from './guest-frames.js';
export { KERNEL_COSTS_NS } from './kernel-costs.js';
export type { KernelCounters } from './kernel-counters.js';
export { KERNEL_PID } from './guest-processes.js';
export type { TableCensus } from './page-table-writer.js';

export interface GuestKernelConfig {
  readonly seed: number;
  readonly memPages: number;
  readonly vcpus: number;
  readonly guest: GuestType;
  readonly paging: PagingMode;
  /**
   * Frames the kernel uses, like Linux's mem= option (default: all of
   * memPages). Frames above it are never touched: zero pages for migration.
   */
  readonly ramPages?: number;
  /** Frames of the kernel image at pfn 0 (default 1024, 4 MiB). */
  readonly imagePages?: number;
  /** Pages of module text and data mapped in the vmalloc area (default 256). */
  readonly modulePages?: number;
}

/**
 * The guest kernel: a page allocator and the page tables of every address
 * space, written entry by entry with pt_write events as Linux writes them
 * (DESIGN sections 1 and 5). The hardware MMU reducer rebuilds the tables
 * from these events alone, so every entry the kernel sets or clears is an
 * event.
 *
 * This class is the kernel's system-call surface, what workloads and
 * importers drive; it wires the pieces, each of which models one part of
 * Linux and says what it follows:
 * - guest-frames.ts: the page allocator and per-frame bookkeeping;
 * - page-table-writer.ts: every table page and every pt_write;
 * - kernel-space.ts: the kernel's own mappings (direct map, modules,
 *   fixmap), pgd_alloc/pgd_free, and how the kernel reaches a frame;
 * - page-cache.ts: files and shared memory;
 * - address-space.ts and guest-vmas.ts: address spaces, their mappings,
 *   mmap placement and munmap;
 * - page-fault-handler.ts: demand paging and copy-on-write;
 * - guest-processes.ts: fork, exec, exit and context switches.
 *
 * Time: every operation takes the guest time `tNs` at which it runs and
 * emits all its events at that time; it returns (and leaves in `endNs`) the
 * time at which the vCPU is free again, tNs plus a modelled CPU cost
 * (kernel-costs.ts). The caller schedules vCPUs so that events come out in
 * time order.
 *
 * Hot path: `touch` walks the kernel's own copy of the tables in typed
 * arrays and emits one event; only faults allocate.
 */
export class GuestKernel {
  readonly layout: GuestLayout;
  readonly levels: number;
  readonly memPages: number;
  readonly ramPages: number;
  readonly vcpus: number;
  readonly pv: boolean;
  /** Frames below this are direct-mapped (kernel allocations come from here). */
  readonly directMapPages: number;
  /** The frame written into a PTE for each pfn: its mfn (PV); undefined for HVM, whose PTEs hold pfns. */
  readonly frameOfPfn: Int32Array | undefined;
  readonly frameKind: Uint8Array;
  /** User mappings of each frame (leaf PTEs in process tables). */
  readonly mapCount: Uint16Array;
  readonly counters: KernelCounters = newKernelCounters();
  /** Finishing time of the latest operation (a double field from the start: src/util/double-field.ts). */
  endNs = DOUBLE_FIRST;

  private readonly work = new KernelWork();
  private readonly frames: GuestFrames;
  private readonly tables: PageTableWriter;
  private readonly kernelSpace: KernelSpace;
  private readonly pageCache: PageCache;
  private readonly vmas: GuestVmas;
  private readonly faults: PageFaultHandler;
  private readonly processes: GuestProcesses;
  // The processes' per-vCPU tables (fixed size), held here too because
  // touch reads them on every access.
  private readonly currentPid: Int32Array;
  private readonly currentRootSlot: Int32Array;

  constructor(
    config: GuestKernelConfig,
    private readonly out: GuestBatchBuilder,
  ) {
    this.endNs = 0;
    const { memPages, vcpus } = config;
    if (!Number.isSafeInteger(memPages) || memPages < 4096) {
      throw new GuestResourceError(`guest kernel needs at least 16 MiB of memory (4096 pages), got ${memPages} pages; give the guest more with --mem`);
    }
    // HVM guests were held to the PV limit here (8 GiB) until 0.1.0, with PV's reason.
    const limit = maxGuestPages(config.guest);
    if (memPages > limit) {
      throw new GuestResourceError(
        `guest memory of ${memPages} pages is above the ${limit}-page limit of the PTE frame field for ${config.guest.toUpperCase()} guests${config.guest === 'pv' ? " (PV host frames are twice the guest's)" : ''}`,
      );
    }
    if (!Number.isInteger(vcpus) || vcpus < 1 || vcpus > 512) throw new GuestResourceError(`guest kernel supports 1 to 512 vCPUs, got ${vcpus}`);
    this.layout = guestLayout(config.paging, config.guest);
    this.levels = this.layout.levels;
    this.memPages = memPages;
    this.ramPages = Math.min(memPages, config.ramPages && config.ramPages > 0 ? config.ramPages : memPages);
    if (this.ramPages < 4096) throw new GuestResourceError(`mem= of ${this.ramPages} pages is below the 4096-page minimum`);
    this.vcpus = vcpus;
    this.pv = config.guest === 'pv';
    this.directMapPages = Math.min(this.ramPages, this.layout.lowmemLimitPages);

    // Each piece is built on those before it; all emit into `out`, add their
    // CPU time to `work` and count into `counters`.
    const { layout, pv, work, counters } = this;
    const frames = (this.frames = new GuestFrames(memPages, this.ramPages, this.directMapPages, pv, config.seed));
    this.frameOfPfn = frames.frameOfPfn;
    this.frameKind = frames.frameKind;
    this.mapCount = frames.mapCount;
    const tables = (this.tables = new PageTableWriter(layout, pv, frames, out, work, counters));
    const kernelSpace = (this.kernelSpace = new KernelSpace(layout, pv, vcpus, config.imagePages ?? 1024, config.modulePages ?? 256, frames, tables, out, work, counters));
    const pageCache = (this.pageCache = new PageCache(frames, kernelSpace, out, work, counters));
    const vmas = (this.vmas = new GuestVmas(layout, tables, pageCache));
    const faults = (this.faults = new PageFaultHandler(frames, tables, kernelSpace, pageCache, vmas, counters));
    // The stream's name is part of every recorded trace's content: keep it.
    const aslr = deriveStream(config.seed, 'guest-kernel/aslr');
    this.processes = new GuestProcesses(layout, vcpus, aslr, frames, tables, kernelSpace, pageCache, vmas, faults, out, counters);
    this.currentPid = this.processes.currentPid;
    this.currentRootSlot = this.processes.currentRootSlot;
  }

  // ---------------------------------------------------------------- boot

  /**
   * The loader copies the kernel image (and initrd) into pfns 0.. before the
   * kernel runs: Xen's domain builder for PV, the boot loader for HVM. Not
   * through the guest's MMU: phys_write by no vCPU, one page every
   * `nsPerPage`. Returns the time the last page lands.
   */
  loadImage(tNs: number, nsPerPage = 250): number {
    return (this.endNs = this.kernelSpace.loadImage(tNs, nsPerPage));
  }

  /**
   * start_kernel's memory part on `vcpu`: reserve the image, build the
   * kernel page tables (direct map, module area, fixmap) under the
   * swapper's root, then load that root on every vCPU.
   */
  boot(vcpu: number, tNs: number): number {
    this.work.ns = 0;
    this.kernelSpace.buildTables(vcpu, tNs);
    this.processes.startIdleTask(this.kernelSpace.swapperRoot, tNs);
    this.kernelSpace.initialiseData(vcpu, tNs);
    return this.finish(tNs);
  }

  // ---------------------------------------------------------------- frames and kernel memory

  /** Free frames left (lowmem and highmem). */
  get freePages(): number {
    return this.frames.freePages;
  }

  /** Free frames left in the direct-mapped part of memory. */
  get freeLowPages(): number {
    return this.frames.freeLowPages;
  }

  /** Frames allocated for the kernel's own use (slab, buffers), direct-mapped. */
  allocKernelPages(count: number): Int32Array {
    return this.frames.allocKernelPages(count);
  }

  freeKernelPage(pfn: number): void {
    this.frames.freeKernelPage(pfn);
  }

  /** The kernel's virtual page for `pfn` in its direct map, or -1 for highmem. */
  directMapVpnOf(pfn: number): number {
    return this.kernelSpace.directMapVpnOf(pfn);
  }

  /** A kernel store to a direct-mapped or kmapped frame (a slab object, a buffer). */
  kernelWrite(vcpu: number, pfn: number, bytes: number, tNs: number): number {
    return this.kernelSpace.kernelWrite(vcpu, pfn, bytes, tNs);
  }

  kernelRead(vcpu: number, pfn: number, tNs: number): number {
    return this.kernelSpace.kernelRead(vcpu, pfn, tNs);
  }

  /** The frames of the kernel's static data: [0] global, then one per-CPU page per vCPU. */
  kernelDataPage(index: number): number {
    return this.kernelSpace.kernelDataPage(index);
  }

  /**
   * One timer interrupt on `vcpu`: the CPU that owns the tick updates
   * jiffies and the wall clock (do_timer), every CPU updates its run queue
   * and timer wheel in its per-CPU area (scheduler_tick, run_local_timers).
   */
  timerTick(vcpu: number, tNs: number): number {
    const k = this.kernelSpace;
    if (vcpu === 0) k.kernelWrite(vcpu, k.kernelDataPage(0), 16, tNs);
    else k.kernelRead(vcpu, k.kernelDataPage(0), tNs);
    k.kernelWrite(vcpu, k.kernelDataPage(1 + vcpu), 64, tNs);
    return (this.endNs = tNs + KERNEL_COSTS_NS.tick);
  }

  // ---------------------------------------------------------------- files and shared memory

  /** The page-cache object of a file, created empty (nothing cached) the first time. */
  openFile(path: string, pages: number): number {
    return this.pageCache.openFile(path, pages);
  }

  /** A shared anonymous memory object (MAP_SHARED|MAP_ANONYMOUS: shmem). */
  createShmem(name: string, pages: number): number {
    return this.pageCache.createShmem(name, pages);
  }

  /** Pages of a file (or shmem object) currently cached. */
  cachedPages(objId: number): number {
    return this.pageCache.cachedPages(objId);
  }

  /**
   * Brings a file page into the page cache: a disk read, which the virtual
   * disk's backend (or the emulated controller) DMAs into the frame:
   * phys_write by no vCPU. Returns the pfn; `endNs` includes the I/O wait.
   */
  cacheFilePage(objId: number, page: number, vcpu: number, tNs: number): number {
    this.work.ns = 0;
    const pfn = this.pageCache.getPage(objId, page, vcpu, tNs);
    this.finish(tNs);
    return pfn;
  }

  /** read(): the kernel copies a cached file page to a user buffer (copy_to_user). */
  readFile(pid: number, vcpu: number, objId: number, page: number, bufferVpn: number, tNs: number): number {
    this.work.ns = 0;
    const pfn = this.pageCache.getPage(objId, page, vcpu, tNs);
    this.kernelSpace.kernelRead(vcpu, pfn, tNs);
    const ioEnd = this.finish(tNs);
    const copyEnd = this.touch(pid, vcpu, bufferVpn, true, tNs, 4096);
    return (this.endNs = Math.max(ioEnd, copyEnd) + KERNEL_COSTS_NS.pageCopy);
  }

  /**
   * write() appending `bytes` at the end of a file: the kernel copies them
   * into the page-cache page at the end (a new page past the end of file is
   * allocated without a disk read).
   */
  appendFile(vcpu: number, objId: number, bytes: number, tNs: number): number {
    this.work.ns = 0;
    this.pageCache.append(vcpu, objId, bytes, tNs);
    return this.finish(tNs);
  }

  // ---------------------------------------------------------------- address spaces

  /** True while `pid` names a live address space. */
  isAlive(pid: number): boolean {
    return this.processes.isAlive(pid);
  }

  /** The root table's pfn (what cr3_load carries) of a live address space. */
  rootPfnOf(pid: number): number {
    return this.processes.rootPfnOf(pid);
  }

  /** The pid whose address space is loaded on `vcpu` (KERNEL_PID for the idle task). */
  currentOn(vcpu: number): number {
    return this.currentPid[vcpu];
  }

  layoutOf(pid: number): ProcessLayout {
    return this.processes.layoutOf(pid);
  }

  /** Live process ids, ascending. */
  livePids(): number[] {
    return this.processes.livePids();
  }

  /**
   * A new, empty address space (kernel mappings only): what an importer
   * starts from, or init before its exec. Runs on `vcpu` at `tNs`.
   */
  createProcess(vcpu: number, tNs: number): number {
    this.work.ns = KERNEL_COSTS_NS.forkBase;
    const pid = this.processes.create(vcpu, tNs);
    this.finish(tNs);
    return pid;
  }

  /**
   * Maps `count` pages of anonymous private memory (demand-zero), at
   * `atVpn` (what an importer does with the pages a capture shows) or, when
   * omitted, where the kernel chooses: top-down in the mmap area, below the
   * lowest mapping there. Returns the first vpn. No page-table work happens
   * until a page is touched.
   */
  mapPages(pid: number, count: number, writable: boolean, atVpn?: number): number {
    return this.vmas.add(this.processes.space(pid), count, writable ? VMA_WRITE : 0, -1, 0, atVpn);
  }

  /** Maps pages of a file, private (copy on write) or shared, at `atVpn` or where the kernel chooses. */
  mapFile(pid: number, objId: number, filePage: number, count: number, writable: boolean, shared: boolean, atVpn?: number, exec = false): number {
    this.pageCache.object(objId).grow(filePage + count);
    const flags = (writable ? VMA_WRITE : 0) | (shared ? VMA_SHARED : 0) | (exec ? VMA_EXEC : 0);
    return this.vmas.add(this.processes.space(pid), count, flags, objId, filePage, atVpn);
  }

  /** Maps a shmem object shared and writable (Apache's scoreboard), at `atVpn` or where the kernel chooses. */
  mapShared(pid: number, objId: number, atVpn?: number): number {
    return this.vmas.add(this.processes.space(pid), this.pageCache.sizePagesOf(objId), VMA_WRITE | VMA_SHARED, objId, 0, atVpn);
  }

  /**
   * Maps `count` pages and faults each in now, as MAP_POPULATE does: a
   * zeroed page with RW and D for a writable mapping. Returns the first vpn.
   */
  mapPopulated(pid: number, vcpu: number, count: number, tNs: number, atVpn?: number): number {
    const vpn = this.vmas.add(this.processes.space(pid), count, VMA_WRITE, -1, 0, atVpn);
    const sp = this.processes.space(pid);
    this.work.ns = 0;
    for (let i = 0; i < count; i++) this.faults.faultIn(sp, vcpu, vpn + i, true, tNs);
    this.finish(tNs);
    return vpn;
  }

  /** munmap: zaps the range's PTEs and frees leaf tables that no mapping needs any more. */
  unmap(pid: number, vpnStart: number, count: number, vcpu: number, tNs: number): number {
    this.work.ns = 0;
    this.vmas.unmap(this.processes.space(pid), vpnStart, count, vcpu, tNs);
    return this.finish(tNs);
  }

  /** The PTE the last touchAhead loaded: kept so that no compiler drops the load. */
  lookAheadPte = 0;

  /**
   * Loads the PTE that a later touch of `vpn` on `vcpu` will read, and
   * changes nothing: a generator that draws its pages at random
   * (the muncher) calls it some writes ahead, so that the miss on the leaf
   * table overlaps the writes in between instead of stalling its own
   * (src/reducers/touch-ahead.ts does the same for the simulator's loops).
   */
  touchAhead(vcpu: number, vpn: number): void {
    const tables = this.tables;
    const link = tables.link;
    let s = this.currentRootSlot[vcpu]!;
    if (this.levels === 4 && s >= 0) s = link[(s << 9) | ((vpn >> 27) & 511)]!;
    if (s >= 0) s = link[(s << 9) | ((vpn >> 18) & 511)]!;
    if (s >= 0) s = link[(s << 9) | ((vpn >> 9) & 511)]!;
    if (s >= 0) this.lookAheadPte = tables.entries[(s << 9) | (vpn & 511)]!;
  }

  /**
   * A data access by process `pid` running on `vcpu` (its address space must
   * be loaded there): one write or read event through the process's
   * virtual page, after the kernel has handled any fault (demand paging,
   * copy-on-write) so that the access itself never faults. Returns the
   * time the access completes.
   */
  touch(pid: number, vcpu: number, vpn: number, write: boolean, tNs: number, bytes = 8): number {
    if (this.currentPid[vcpu] !== pid) this.processes.notCurrent(pid, vcpu);
    // The walk starts at the root loaded on the vCPU, which is pid's (checked
    // above). The writer's arrays are read here, not kept: they are replaced
    // when they grow.
    const tables = this.tables;
    const link = tables.link;
    let s = this.currentRootSlot[vcpu];
    if (this.levels === 4) s = link[(s << 9) | ((vpn >> 27) & 511)];
    if (s >= 0) s = link[(s << 9) | ((vpn >> 18) & 511)];
    if (s >= 0) s = link[(s << 9) | ((vpn >> 9) & 511)];
    if (s >= 0) {
      const entries = tables.entries;
      const i = (s << 9) | (vpn & 511);
      const pte = entries[i];
      if (write) {
        if ((pte & (PTE_P | PTE_RW)) === (PTE_P | PTE_RW)) {
          entries[i] = pte | (PTE_A | PTE_D);
          this.out.write(tNs, vcpu, vpn, bytes);
          return tNs;
        }
      } else if ((pte & PTE_P) !== 0) {
        entries[i] = pte | PTE_A;
        this.out.read(tNs, vcpu, vpn);
        return tNs;
      }
    }
    return this.fault(pid, vcpu, vpn, write, tNs, bytes);
  }

  /** A context switch: loads `pid`'s root on `vcpu` unless it is loaded already. */
  switchTo(vcpu: number, pid: number, tNs: number): number {
    if (this.currentPid[vcpu] === pid) return (this.endNs = tNs);
    this.processes.switchTo(vcpu, pid, tNs);
    return (this.endNs = tNs + KERNEL_COSTS_NS.contextSwitch);
  }

  /**
   * fork() by `pid` on `vcpu`: a new address space whose private writable
   * pages are shared copy-on-write with the parent. Returns the child's pid;
   * `endNs` is when the parent returns from fork.
   */
  fork(pid: number, vcpu: number, tNs: number): number {
    this.work.ns = KERNEL_COSTS_NS.forkBase;
    const childPid = this.processes.fork(pid, vcpu, tNs);
    this.finish(tNs);
    return childPid;
  }

  /**
   * exec() of `image` by `pid`, which must be running on `vcpu`: a new
   * address space with the program's mappings replaces the old one, which
   * is then freed. `image` undefined gives an empty address space.
   * Returns when the new program starts.
   */
  exec(pid: number, vcpu: number, image: ProgramImage | undefined, tNs: number): number {
    if (this.currentPid[vcpu] !== pid) this.processes.notCurrent(pid, vcpu);
    this.work.ns = KERNEL_COSTS_NS.execBase;
    this.processes.exec(pid, vcpu, image, tNs);
    return this.finish(tNs);
  }

  /**
   * exit() of `pid` (its last thread, on `vcpu`): every vCPU running it
   * switches to the idle task's root, the address space is torn down and
   * the kernel stack freed. Returns when the exit is complete.
   */
  exit(pid: number, vcpu: number, tNs: number): number {
    if (pid === KERNEL_PID) throw new Error('guest kernel: the kernel address space cannot exit');
    this.work.ns = KERNEL_COSTS_NS.exitBase;
    this.processes.exit(pid, vcpu, tNs);
    return this.finish(tNs);
  }

  // ---------------------------------------------------------------- census

  /** Page-table pages per level and leaf-entry bits, from the kernel's own copy. */
  census(): TableCensus {
    return this.tables.census();
  }

  /**
   * Frames no event has written since boot: free frames never used, RAM
   * above mem=, the kernel's zero page, and tables allocated but never
   * filled (their content is zeros too). Migration sends these as zero pages.
   */
  neverWrittenPages(): number {
    return this.frames.neverWrittenPages();
  }

  /** The kernel's counters and census as integer WorkloadStats entries. */
  statsEntries(): Record<string, number> {
    const c = this.census();
    const out: Record<string, number> = { ...this.counters };
    c.tablesPerLevel.forEach((n, i) => (out[`ptPagesL${i + 1}`] = n));
    out['leafSlots'] = c.leafSlots;
    out['leafPresent'] = c.leafPresent;
    out['leafAccessedDirtyWritable'] = c.leafAccessedDirtyWritable;
    out['freePages'] = this.freePages;
    out['neverWrittenPages'] = this.neverWrittenPages();
    out['liveProcesses'] = this.livePids().length;
    // Listed once reclaim has run, so the stats of every run that never
    // filled its memory (the golden traces' among them) are as they were.
    if (this.pageCache.pagesReclaimed > 0) out['pagesReclaimed'] = this.pageCache.pagesReclaimed;
    return out;
  }

  // ---------------------------------------------------------------- internals

  /** touch's slow path: the kernel handles the fault, then the access goes through. */
  private fault(pid: number, vcpu: number, vpn: number, write: boolean, tNs: number, bytes: number): number {
    this.work.ns = KERNEL_COSTS_NS.fault;
    this.counters.pageFaults++;
    const sp = this.processes.space(pid);
    const i = this.faults.faultIn(sp, vcpu, vpn, write, tNs);
    // The faulting access now goes through (faultIn may have grown the
    // writer's arrays, so they are read again).
    if (write) {
      this.tables.entries[i] |= PTE_A | PTE_D;
      this.out.write(tNs, vcpu, vpn, bytes);
    } else {
      this.tables.entries[i] |= PTE_A;
      this.out.read(tNs, vcpu, vpn);
    }
    return this.finish(tNs);
  }

  private finish(tNs: number): number {
    return (this.endNs = tNs + this.work.ns);
  }
}
