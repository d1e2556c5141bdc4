import type { GuestBatchBuilder } from '../events/guest-batch-builder.js';
import type { GuestSpec } from '../trace/trace-records.js';
import { TimerTicks, VcpuActivity } from '../workloads/guest-cpu.js';
import { GuestKernel } from '../workloads/guest-kernel.js';
import { FrameHolders } from './frame-holders.js';
import { GuestVpnMap, vpnMapGeometry, type VpnMapGeometry } from './guest-vpn-map.js';
import { PAGE_INHERITED, PAGE_PRESENT, PageRecords } from './page-records.js';

/** Words of a space's region bits to start with: the first guest GiB above the unmapped one (x86-64), all three of PAE's. */
const REGION_WORDS_MIN = 32;

/** One guest address space standing for one captured address space. */
export class ImportSpace {
  /** The guest process, once created (-1 before). */
  guestPid = -1;
  alive = true;
  /**
   * Guest 2 MiB regions (vpn >> 9) mapped in the guest kernel, a bit each.
   * The vpn map gives a space's regions out densely from its first guest
   * GiB up (src/import/guest-vpn-map.ts), so a few hundred bytes hold
   * them: a Set of them was a hash table per space that every page's
   * write looked up, a few KiB each and larger as the capture grew, one
   * more cache miss per page once a large capture's state had pushed them
   * out of the caches.
   */
  private regionBits = new Uint32Array(REGION_WORDS_MIN);
  /**
   * Each page's source frame (b/d lines), shmem object and whether the
   * capture listed it (B or D), it is present and written in the guest
   * process, or a fork gave it, by guest vpn: a small integer, where
   * source pages (up to 52 bits) would make every lookup slower. Its
   * listed pages are one to one with the source pages of one space.
   */
  readonly pages = new PageRecords();

  constructor(
    readonly map: GuestVpnMap,
    readonly parent: ImportSpace | undefined,
  ) {}

  /** True when region `block` (a guest vpn >> 9) is mapped in the guest process. */
  hasRegion(block: number): boolean {
    const w = block >>> 5;
    return w < this.regionBits.length && (this.regionBits[w]! & (1 << (block & 31))) !== 0;
  }

  /** Notes region `block` as mapped. */
  addRegion(block: number): void {
    const w = block >>> 5;
    if (w >= this.regionBits.length) {
      const bits = new Uint32Array(Math.max(w + 1, this.regionBits.length * 2));
      bits.set(this.regionBits);
      this.regionBits = bits;
    }
    this.regionBits[w] = this.regionBits[w]! | (1 << (block & 31));
  }

  /** Notes every region `parent` has mapped as mapped here too (fork copies the parent's mappings). */
  inheritRegions(parent: ImportSpace): void {
    const from = parent.regionBits;
    if (from.length > this.regionBits.length) {
      const bits = new Uint32Array(from.length);
      bits.set(this.regionBits);
      this.regionBits = bits;
    }
    const bits = this.regionBits;
    for (let w = 0; w < from.length; w++) bits[w] = bits[w]! | from[w]!;
  }

  /** Distinct pages the capture listed for this space. */
  get listedPages(): number {
    return this.pages.listed;
  }

  /** Drops the per-page bookkeeping of a space that is gone (its frames stay, for its children). */
  release(): void {
    this.regionBits = new Uint32Array(REGION_WORDS_MIN);
    this.pages.release();
  }

  /** True when `other` is this space's ancestor or descendant through fork. */
  relatedTo(other: ImportSpace): boolean {
    for (let s = this.parent; s; s = s.parent) if (s === other) return true;
    for (let s = other.parent; s; s = s.parent) if (s === this) return true;
    return false;
  }
}

const BLOCK_PAGES = 512;

/**
 * The guest an imported capture runs in: a booted guest kernel (its page
 * allocator hands out every frame, its page tables are written entry by
 * entry), one guest address space per captured address space, and the
 * bookkeeping that turns "this process wrote these pages" into the kernel
 * calls a real guest would make. Shared by the rtdirty and lackey
 * importers.
 *
 * Memory of a captured process: every 2 MiB region the vpn map gives out
 * becomes one anonymous writable mapping of the guest process (mapPages),
 * made when the process first touches it; pages are demand-faulted by the
 * first access (a write allocates and zero-fills a frame, as Linux does).
 *
 * Frames shared between processes (from rtdirty's b/d lines): a source
 * frame seen under pages of two live processes that fork does not explain
 * is shared memory. The importer gives it a one-page shmem object of the
 * guest kernel and maps that object MAP_SHARED at each page (munmap of the
 * private page first, as a process that mmaps over its memory does), so
 * both pages are one guest frame. A page of a forked child that still has
 * its parent's frame at the same address is the copy-on-write sharing fork
 * made: nothing to do. A frame seen under a second page of the same
 * process is taken as reused (freed under the first page, which the
 * capture cannot see: MADV_DONTNEED, munmap), not shared. What is known of
 * a page's frame is its latest b/d line, so a frame freed by one process
 * and handed to another that is still alive can look shared: then the
 * first process's (no longer used) page shares the second's guest frame,
 * which costs nothing in dirtying.
 */
export class ImportGuest {
  readonly kernel: GuestKernel;
  readonly activity: VcpuActivity;
  readonly ticks: TimerTicks | undefined;
  readonly geometry: VpnMapGeometry;
  /** When each vCPU is free again (end of its latest work). */
  readonly freeNs: Float64Array;
  /** Each source frame's latest holder (b/d lines) and its shmem object once shared. */
  private readonly frames = new FrameHolders<ImportSpace>();
  /** Shared frames found (shmem objects made). */
  sharedFrames = 0;
  /** Pages moved onto a shared frame. */
  sharedMappings = 0;
  /** Baseline pages of forked children left as fork shared them. */
  inheritedPages = 0;

  /** The guest of a trace header's spec, its kernel seeded by `seed`, with `hz` timer interrupts per second on each vCPU (0: none). */
  constructor(
    spec: GuestSpec,
    { seed, hz }: { readonly seed: number; readonly hz: number },
    readonly out: GuestBatchBuilder,
  ) {
    this.kernel = new GuestKernel({ seed, memPages: spec.memPages, vcpus: spec.vcpus, guest: spec.type, paging: spec.paging }, out);
    this.activity = new VcpuActivity(out, spec.vcpus);
    this.geometry = vpnMapGeometry(spec.paging);
    this.freeNs = new Float64Array(spec.vcpus);
    this.kernel.loadImage(0);
    const booted = this.kernel.boot(0, out.nowNs);
    this.activity.busyUntil(0, booted);
    this.freeNs[0] = booted;
    this.ticks = hz > 0 ? new TimerTicks(this.kernel, this.activity, hz, booted) : undefined;
  }

  newSpace(parent?: ImportSpace, map?: GuestVpnMap): ImportSpace {
    return new ImportSpace(map ?? new GuestVpnMap(this.geometry), parent);
  }

  /** Emits timer ticks due at or before `tNs`. Call before anything runs at tNs on `vcpu` (its idle gap, if any, is closed by the batch builder). */
  startWork(_vcpu: number, tNs: number): void {
    this.ticks?.until(tNs);
  }

  /** The vCPU is busy until `endNs`. */
  endWork(vcpu: number, endNs: number): void {
    if (endNs > this.freeNs[vcpu]!) this.freeNs[vcpu] = endNs;
    this.activity.busyUntil(vcpu, endNs);
  }

  /** A new empty address space (an attached process) on `vcpu`. Returns the CPU time used. */
  create(space: ImportSpace, vcpu: number, tNs: number): number {
    space.guestPid = this.kernel.createProcess(vcpu, tNs);
    return this.kernel.endNs - tNs;
  }

  /** fork() of `parent` making `child` (falls back to an empty space if the parent is gone). */
  fork(parent: ImportSpace, child: ImportSpace, vcpu: number, tNs: number): number {
    if (!parent.alive || parent.guestPid < 0 || !this.kernel.isAlive(parent.guestPid)) return this.create(child, vcpu, tNs);
    child.guestPid = this.kernel.fork(parent.guestPid, vcpu, tNs);
    child.inheritRegions(parent);
    child.pages.inheritFrom(parent.pages);
    return this.kernel.endNs - tNs;
  }

  /** exec(): `next` replaces `prev` as the process's address space. */
  exec(prev: ImportSpace, next: ImportSpace, vcpu: number, tNs: number): number {
    let used = this.switchTo(prev, vcpu, tNs);
    this.kernel.exec(prev.guestPid, vcpu, undefined, tNs);
    used += this.kernel.endNs - tNs;
    prev.alive = false;
    next.guestPid = prev.guestPid;
    return used;
  }

  /** exit(): the address space is torn down. */
  exit(space: ImportSpace, vcpu: number, tNs: number): number {
    if (!space.alive) return 0;
    space.alive = false;
    this.kernel.exit(space.guestPid, vcpu, tNs);
    return this.kernel.endNs - tNs;
  }

  /** Loads the space's root on `vcpu` if it is not loaded. Returns the CPU time used. */
  switchTo(space: ImportSpace, vcpu: number, tNs: number): number {
    if (this.kernel.currentOn(vcpu) === space.guestPid) return 0;
    return this.kernel.switchTo(vcpu, space.guestPid, tNs) - tNs;
  }

  /**
   * The process writes source page `page` (guest vpn `gvpn`) at `tNs` on
   * `vcpu`. `frame` is its source frame when the capture has one (0: not
   * known). A `baseline` page (written before the capture) of a forked
   * child that fork already shares is left as it is. Returns the CPU time used.
   */
  write(space: ImportSpace, page: number, gvpn: number, frame: number, baseline: boolean, vcpu: number, tNs: number, bytes: number): number {
    let used = 0;
    if (frame > 0) used += this.notePhysical(space, page, gvpn, frame, vcpu, tNs);
    const rec = space.pages;
    const i = rec.slot(gvpn);
    rec.list(i);
    if (baseline && (rec.flags(i) & PAGE_INHERITED) !== 0 && rec.shmem(i) < 0) {
      const parentFrame = space.parent?.pages.frameOf(gvpn) ?? 0;
      if (frame === 0 || parentFrame === 0 || parentFrame === frame) {
        this.inheritedPages++;
        return used;
      }
    }
    this.ensureRegion(space, gvpn);
    used += this.switchTo(space, vcpu, tNs);
    used += this.kernel.touch(space.guestPid, vcpu, gvpn, true, tNs, bytes) - tNs;
    rec.setFlags(i, rec.flags(i) | PAGE_PRESENT);
    return used;
  }

  /** Maps the 2 MiB region holding `gvpn` into the guest process if it is not mapped yet. */
  ensureRegion(space: ImportSpace, gvpn: number): void {
    const block = gvpn >> 9;
    if (space.hasRegion(block)) return;
    this.kernel.mapPages(space.guestPid, BLOCK_PAGES, true, block * BLOCK_PAGES);
    space.addRegion(block);
  }

  private notePhysical(space: ImportSpace, page: number, gvpn: number, frame: number, vcpu: number, tNs: number): number {
    const rec = space.pages;
    const i = rec.slot(gvpn);
    const prev = rec.frame(i);
    if (prev === frame) return 0;
    rec.setFrame(i, frame);
    let used = 0;
    if (prev !== 0 && rec.shmem(i) >= 0) {
      // The page left its shared frame for a private one (it was unmapped
      // and mapped again): back to a private page.
      used += this.kernel.unmap(space.guestPid, gvpn, 1, vcpu, tNs) - tNs;
      this.kernel.mapPages(space.guestPid, 1, true, gvpn);
      rec.setShmem(i, -1);
      rec.setFlags(i, rec.flags(i) & ~PAGE_PRESENT);
    }
    const holders = this.frames;
    const h = holders.find(frame);
    const holder = h < 0 ? null : holders.space(h);
    if (holder === null || !holder.alive || holder.pages.frameOf(holders.gvpn(h)) !== frame) {
      holders.set(frame, space, page, gvpn);
      return used;
    }
    const holderGvpn = holders.gvpn(h);
    if (holder === space && holderGvpn === gvpn) return used;
    let obj = holders.obj(h);
    if (obj < 0) {
      // Two pages of one process on one frame: the frame was freed under
      // the first (munmap, MADV_DONTNEED: the capture cannot see it) and
      // handed to the second, far more often than one process maps a page
      // twice. The second is its holder now.
      if (holder === space) {
        holders.set(frame, space, page, gvpn);
        return used;
      }
      // Fork's copy-on-write sharing: the same address in a parent and child.
      if (holders.page(h) === page && holder.relatedTo(space)) return used;
      // One name for every such object: a label that nothing reads, where
      // a name per frame was a string (two heap objects) per shared frame.
      obj = this.kernel.createShmem('rtdirty-shared-frame', 1);
      holders.setObj(h, obj);
      this.sharedFrames++;
      used += this.moveToShared(holder, holderGvpn, obj, vcpu, tNs);
    }
    if (rec.shmem(rec.find(gvpn)) !== obj) used += this.moveToShared(space, gvpn, obj, vcpu, tNs);
    return used;
  }

  /** munmap of the private page, then mmap(MAP_SHARED) of the shared object at the same address. */
  private moveToShared(space: ImportSpace, gvpn: number, obj: number, vcpu: number, tNs: number): number {
    this.ensureRegion(space, gvpn);
    const used = this.kernel.unmap(space.guestPid, gvpn, 1, vcpu, tNs) - tNs;
    this.kernel.mapShared(space.guestPid, obj, gvpn);
    const rec = space.pages;
    const i = rec.slot(gvpn);
    rec.setShmem(i, obj);
    rec.setFlags(i, rec.flags(i) & ~PAGE_PRESENT);
    this.sharedMappings++;
    return used;
  }

  /** Idle events and timer ticks up to `endNs`, so the trace reaches the end of the capture. */
  finish(endNs: number): void {
    this.ticks?.until(endNs);
    this.activity.finish(endNs);
  }
}
