import type { GuestBatchBuilder } from '../events/guest-batch-builder.js';
import type { Xoshiro128 } from '../random/xoshiro128.js';
import { AddressSpace, VMA_EXEC, VMA_SHARED, VMA_WRITE } from './address-space.js';
import { FrameKind, type GuestFrames } from './guest-frames.js';
import type { GuestLayout } from './guest-layout.js';
import type { LibraryImage, ProcessLayout, ProgramImage, SegmentLayout } from './guest-program.js';
import type { GuestVmas } from './guest-vmas.js';
import type { KernelCounters } from './kernel-counters.js';
import type { KernelSpace } from './kernel-space.js';
import type { PageCache } from './page-cache.js';
import type { PageFaultHandler } from './page-fault-handler.js';
import type { PageTableWriter } from './page-table-writer.js';
import { VmaTree } from './vma-tree.js';

/** The address space of the kernel's own idle and kernel threads (init_mm). */
export const KERNEL_PID = 0;

/**
 * The guest's processes: which address spaces live, which one each vCPU
 * has loaded, and their lifecycle (Linux's kernel/fork.c, fs/exec.c,
 * kernel/exit.c, and the CR3 load of a context switch).
 *
 * - fork builds a new address space sharing the parent's mappings; its
 *   private writable pages are shared copy-on-write (PageFaultHandler).
 * - exec builds a new address space with the program and its libraries
 *   placed as binfmt_elf and ld.so place them, switches to it, then frees
 *   the old one (exec_mmap). The mmap base and the stack are randomised.
 * - exit switches every vCPU running the process to the idle task's root,
 *   zaps and frees the user tables (exit_mmap), then the root (pgd_free).
 * - Each task has a kernel stack of THREAD_SIZE, written as fork copies the
 *   parent's.
 */
export class GuestProcesses {
  /** The pid whose address space is loaded on each vCPU, -1 before boot. */
  readonly currentPid: Int32Array;
  /**
   * The root table's slot loaded on each vCPU (its CR3), -1 before boot:
   * what touch walks from, as the hardware walks from CR3. Per vCPU rather
   * than per pid so the array never grows and touch can keep it.
   */
  readonly currentRootSlot: Int32Array;
  private readonly spaces: (AddressSpace | undefined)[] = [];
  private nextPid = 1;

  constructor(
    private readonly layout: GuestLayout,
    private readonly vcpus: number,
    private readonly aslr: Xoshiro128,
    private readonly frames: GuestFrames,
    private readonly tables: PageTableWriter,
    private readonly kernelSpace: KernelSpace,
    private readonly pageCache: PageCache,
    private readonly vmas: GuestVmas,
    private readonly faults: PageFaultHandler,
    private readonly out: GuestBatchBuilder,
    private readonly counters: KernelCounters,
  ) {
    this.currentPid = new Int32Array(vcpus).fill(-1);
    this.currentRootSlot = new Int32Array(vcpus).fill(-1);
  }

  /** True while `pid` names a live address space. */
  isAlive(pid: number): boolean {
    return this.spaces[pid] !== undefined;
  }

  /** The root table's pfn (what cr3_load carries) of a live address space. */
  rootPfnOf(pid: number): number {
    return this.tables.slotPfn[this.space(pid).rootSlot];
  }

  layoutOf(pid: number): ProcessLayout {
    const l = this.space(pid).layout;
    if (!l) throw new Error(`guest kernel: process ${pid} has no program image (it was created empty)`);
    return l;
  }

  /** Live process ids, ascending. */
  livePids(): number[] {
    const pids: number[] = [];
    for (let p = 1; p < this.spaces.length; p++) if (this.spaces[p]) pids.push(p);
    return pids;
  }

  space(pid: number): AddressSpace {
    const sp = this.spaces[pid];
    if (!sp) throw new Error(`guest kernel: no live process ${pid}`);
    return sp;
  }

  notCurrent(pid: number, vcpu: number): never {
    throw new Error(`guest kernel: process ${pid} is not running on vCPU ${vcpu} (vCPU ${vcpu} runs ${this.currentPid[vcpu]}); call switchTo first`);
  }

  /** The idle task's address space (the swapper's root) goes live and is loaded on every vCPU. */
  startIdleTask(swapperRoot: number, tNs: number): void {
    this.spaces[KERNEL_PID] = new AddressSpace(KERNEL_PID, swapperRoot, this.layout.userMmapTopVpn);
    for (let v = 0; v < this.vcpus; v++) this.loadRoot(v, KERNEL_PID, tNs);
  }

  /** A new, empty address space (kernel mappings only). */
  create(vcpu: number, tNs: number): number {
    const pid = this.newPid();
    this.installSpace(pid, this.kernelSpace.pgdAlloc(vcpu, tNs));
    this.counters.processesCreated++;
    this.allocKernelStack(this.space(pid), vcpu, tNs);
    return pid;
  }

  /** Loads `pid`'s root on `vcpu` (the caller knows it is not loaded there yet). */
  switchTo(vcpu: number, pid: number, tNs: number): void {
    this.space(pid);
    this.loadRoot(vcpu, pid, tNs);
  }

  /** fork() by `pid`: a new address space whose private writable pages are shared copy-on-write. */
  fork(pid: number, vcpu: number, tNs: number): number {
    const parent = this.space(pid);
    const childPid = this.newPid();
    const child = this.installSpace(childPid, this.kernelSpace.pgdAlloc(vcpu, tNs));
    child.layout = parent.layout;
    child.mmapCursorVpn = parent.mmapCursorVpn;
    for (const r of parent.regions) {
      child.regions.insert(r.start, r.end, r.flags, r.obj, r.objPage);
      if (r.obj >= 0) this.pageCache.addMapRef(r.obj);
    }
    this.allocKernelStack(child, vcpu, tNs);
    for (const r of parent.regions) {
      // copy_page_range skips mappings a fault can fill again: shared and
      // read-only ones.
      if ((r.flags & (VMA_WRITE | VMA_SHARED)) === VMA_WRITE) this.faults.copyPageRange(parent.rootSlot, child.rootSlot, r, vcpu, tNs);
    }
    this.counters.forks++;
    this.counters.processesCreated++;
    return childPid;
  }

  /** exec() of `image` (undefined: an empty address space) by `pid`, which runs on `vcpu`. */
  exec(pid: number, vcpu: number, image: ProgramImage | undefined, tNs: number): void {
    const sp = this.space(pid);
    const oldRoot = sp.rootSlot;
    const oldRegions = sp.regions;
    const newRoot = this.kernelSpace.pgdAlloc(vcpu, tNs);
    sp.rootSlot = newRoot;
    sp.regions = new VmaTree();
    sp.mmapCursorVpn = this.layout.userMmapTopVpn - this.aslr.below(this.layout.aslrMmapPages);
    sp.layout = image ? this.layOut(sp, image) : undefined;
    // Other threads of the old image die (de_thread); this one switches.
    for (let v = 0; v < this.vcpus; v++) if (this.currentPid[v] === pid) this.loadRoot(v, pid, tNs);
    this.freeTables(oldRoot, vcpu, tNs);
    for (const r of oldRegions) if (r.obj >= 0) this.pageCache.dropMapRef(r.obj);
    this.counters.execs++;
  }

  /** exit() of `pid` (its last thread, on `vcpu`). */
  exit(pid: number, vcpu: number, tNs: number): void {
    const sp = this.space(pid);
    for (let v = 0; v < this.vcpus; v++) if (this.currentPid[v] === pid) this.loadRoot(v, KERNEL_PID, tNs);
    this.freeTables(sp.rootSlot, vcpu, tNs);
    for (const r of sp.regions) if (r.obj >= 0) this.pageCache.dropMapRef(r.obj);
    for (const pfn of sp.kernelStack) this.frames.freeFrame(pfn);
    this.spaces[pid] = undefined;
    this.counters.processesExited++;
  }

  private loadRoot(vcpu: number, pid: number, tNs: number): void {
    const root = this.space(pid).rootSlot;
    this.out.cr3Load(tNs, vcpu, this.tables.slotPfn[root]);
    this.currentPid[vcpu] = pid;
    this.currentRootSlot[vcpu] = root;
    this.counters.cr3Loads++;
  }

  /** Zaps and frees every user table under `root`, then the kernel part and the root itself. */
  private freeTables(root: number, vcpu: number, tNs: number): void {
    this.tables.freeUserTables(root, vcpu, tNs);
    this.kernelSpace.pgdFree(root, vcpu, tNs);
  }

  private newPid(): number {
    return this.nextPid++;
  }

  private installSpace(pid: number, root: number): AddressSpace {
    const sp = new AddressSpace(pid, root, this.layout.userMmapTopVpn - this.aslr.below(this.layout.aslrMmapPages));
    this.spaces[pid] = sp;
    return sp;
  }

  /** Kernel stack and task struct of a new task: written as fork copies the parent's. */
  private allocKernelStack(sp: AddressSpace, vcpu: number, tNs: number): void {
    const pages = this.layout.levels === 4 ? 4 : 2; // THREAD_SIZE: 16 KiB on x86-64, 8 KiB on i386
    for (let i = 0; i < pages; i++) {
      const pfn = this.frames.allocLow(FrameKind.kernel);
      sp.kernelStack.push(pfn);
      this.kernelSpace.kernelWrite(vcpu, pfn, 4096, tNs);
    }
  }

  /** Places a program and its libraries (binfmt_elf, then ld.so's mmaps top-down). */
  private layOut(sp: AddressSpace, image: ProgramImage): ProcessLayout {
    const L = this.layout;
    const seg = this.mapObject(sp, image, L.userTextVpn);
    const heapVpn = seg.bssVpn + seg.bssPages;
    if (image.heapPages > 0) this.vmas.add(sp, image.heapPages, VMA_WRITE, -1, 0, heapVpn);
    const libraries: SegmentLayout[] = [];
    for (const lib of image.libraries) {
      const total = lib.textPages + lib.dataPages + lib.bssPages;
      const at = sp.mmapCursorVpn - total;
      sp.mmapCursorVpn = at - 1;
      libraries.push(this.mapObject(sp, lib, at));
    }
    const stackTop = L.userStackTopVpn - this.aslr.below(L.aslrStackPages);
    const stackVpn = stackTop - image.stackPages + 1;
    this.vmas.add(sp, image.stackPages, VMA_WRITE, -1, 0, stackVpn);
    return { ...seg, heapVpn, heapPages: image.heapPages, stackVpn, stackPages: image.stackPages, libraries };
  }

  /** Maps an ELF object's text (from its file), data (private file pages) and bss (anonymous). */
  private mapObject(sp: AddressSpace, lib: LibraryImage, at: number): SegmentLayout {
    const file = this.pageCache.openFile(lib.path, lib.textPages + lib.dataPages);
    if (lib.textPages > 0) this.vmas.add(sp, lib.textPages, VMA_EXEC, file, 0, at);
    const dataVpn = at + lib.textPages;
    if (lib.dataPages > 0) this.vmas.add(sp, lib.dataPages, VMA_WRITE, file, lib.textPages, dataVpn);
    const bssVpn = dataVpn + lib.dataPages;
    if (lib.bssPages > 0) this.vmas.add(sp, lib.bssPages, VMA_WRITE, -1, 0, bssVpn);
    return { textVpn: at, textPages: lib.textPages, dataVpn, dataPages: lib.dataPages, bssVpn, bssPages: lib.bssPages };
  }
}
