import { NO_VCPU } from '../events/guest-event-kind.js';
import { RunEventKind } from '../events/run-event-kind.js';
import type { EptExitHandler, EptGates } from './ept-gates.js';
import { DEFAULT_KVM, type KvmOptions } from './kvm-options.js';
import { PAGES_PER_LEAF } from './logdirty-bitmap.js';
import { MAP_4K, P2mTable } from './p2m-table.js';
import { Tracker, type TrackerEnv, type TrackerName } from './tracker.js';
// Module-local, as in tracker.ts.
const EVENT = RunEventKind;
/** A write gate holding 0 is closed while logging: logging epochs start at 1 (P2mTable.epoch counts up from boot's 0). */
const CLOSED = 0;

/**
 * KVM's dirty logging on x86 with the TDP MMU under EPT, as QEMU drives it:
 * the base of kvm-wp, kvm-pml and kvm-ring. Follows Linux's
 * virt/kvm/kvm_main.c (kvm_get_dirty_log_protect, kvm_clear_dirty_log_protect,
 * mark_page_dirty_in_slot), arch/x86/kvm/x86.c (kvm_mmu_slot_apply_flags,
 * kvm_arch_mmu_enable_log_dirty_pt_masked, kvm_arch_sync_dirty_log) and
 * arch/x86/kvm/mmu (fast_page_fault, kvm_tdp_mmu_map, tdp_mmu_split_huge_page,
 * kvm_mmu_slot_try_split_huge_pages, kvm_mmu_try_split_huge_pages).
 *
 * What differs from Xen's HAP (tracker-hap.ts), and why this is not a
 * subclass of it:
 * - Nothing is lazy: KVM changes SPTEs in the ioctl, not on a
 *   misconfiguration exit, so loads never exit. Those ioctls run on QEMU's
 *   thread while the vCPUs keep running (the TDP MMU takes mmu_lock for
 *   read): their time is the toolstack's (opThreadNs), not a domain pause.
 *   Only a sync done with the VM stopped (FINAL, in stop-and-copy) is
 *   downtime. Re-protecting pages flushes remote TLBs
 *   (kvm_flush_remote_tlbs_memslot): every running vCPU takes a short exit
 *   (kick_exit).
 * - Enabling logging (KVM_SET_USER_MEMORY_REGION with
 *   KVM_MEM_LOG_DIRTY_PAGES, kvm_mmu_slot_apply_flags): without
 *   KVM_DIRTY_LOG_INITIALLY_SET, huge pages are split first when
 *   eager_page_split is on, then every SPTE is write-protected (kvm-wp) or
 *   has its D bit cleared (PML; huge pages still write-protected). With
 *   manual protect, QEMU always asks for INITIALLY_SET too: nothing is
 *   protected, the bitmap starts all set, and pages are protected as QEMU
 *   clears them.
 * - KVM_GET_DIRTY_LOG without manual protect takes and zeroes the bitmap and
 *   re-protects exactly the pages it returns (the only ones a write made
 *   writable). With manual protect (KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2) GET
 *   only copies; QEMU clears chunks of 2^clear-bitmap-shift pages lazily,
 *   just before it sends the first page of each (migration/ram.c
 *   migration_clear_memory_region_dirty_bitmap -> accel/kvm/kvm-all.c
 *   kvm_log_clear_one_slot, whose mask is the slot's copy of the last GET,
 *   KVMSlot.dirty_bmap): KVM_CLEAR_DIRTY_LOG clears those bits and
 *   re-protects only those pages, splitting huge pages in the range first
 *   (eager) or write-protecting them whole at 2 MiB level.
 * - A first write to a write-protected 4 KiB SPTE is an EPT violation that
 *   fast_page_fault fixes without mmu_lock (npf_exit, kvmWpFaultNs). A write
 *   to a write-protected huge page while logging cannot map it huge again:
 *   kvm_tdp_mmu_map splits it one level at a time toward the page written
 *   (tdp_mmu_split_huge_page: 1 GiB -> 512 x 2 MiB, 2 MiB -> 512 x 4 KiB),
 *   the children inheriting the parent's protection, and maps the written
 *   page writable (npf_exit plus superpage_split, kvmSplitPerTableNs per
 *   table built on the vCPU's time).
 * - Writes by QEMU itself (a phys_write with no vCPU: device emulation,
 *   vhost) go to QEMU's own bitmap, not KVM's; they are marked here and
 *   leave the SPTE as it is.
 *
 * Simplification: with EPT A/D bits on, the processor's reads of guest
 * page-table pages count as writes for EPT permissions (Intel SDM 29.3.3.2),
 * so a walk through a write-protected table exits; here a page-table page
 * is tracked through the stores into it (pt_write and the walker's A/D
 * stores) only, as under Xen's HAP. KVM flushes a vCPU's PML buffer on
 * every exit (vmx_handle_exit -> vmx_flush_pml_buffer); here when it is
 * full and at each sync, which is when its contents are read.
 */
export abstract class KvmTracker extends Tracker implements EptExitHandler {
  abstract override readonly name: TrackerName;
  protected readonly kvm: KvmOptions;
  protected readonly p2m: P2mTable;
  protected readonly writable: Uint8Array;
  /** Per 2 MiB region, always the current epoch: loads and walks never exit under KVM. */
  private readonly open: Uint8Array;
  private readonly gateSet: EptGates;
  /** The slot's copy of the last GET (QEMU's KVMSlot.dirty_bmap), less what CLEARs took since: the mask a CLEAR passes. */
  private readonly fetched: Uint32Array;
  protected readonly memPages: number;
  protected readonly vcpus: number;
  private readonly wpFaultCostNs: number;
  private readonly splitPerTableNs: number;
  private readonly protectPerPageNs: number;
  /** tracker counts */
  protected wpFaults = 0;
  protected splitFaults = 0;
  protected eagerSplitTables = 0;
  protected protectedPages = 0;
  protected chunkClears = 0;
  protected kickExits = 0;

  constructor(env: TrackerEnv) {
    super(env);
    this.kvm = env.kvm ?? DEFAULT_KVM;
    this.memPages = env.guest.memPages;
    this.vcpus = env.guest.vcpus;
    this.p2m = new P2mTable(env.guest.memPages, env.p2m);
    this.writable = this.p2m.writableEpoch;
    this.open = new Uint8Array(this.p2m.regions);
    this.fetched = new Uint32Array(this.dirty.bits.length);
    const walkFrom = env.guest.paging === 'pae' ? 1 : 0;
    this.gateSet = { epoch: 0, epochCount: 0, write: this.writable, read: this.open, walk: this.open, walkShift: 9, walkFrom, cr3Exits: false, handler: this };
    const c = env.costs;
    this.wpFaultCostNs = c.exitRoundTripNs + c.kvmWpFaultNs;
    this.splitPerTableNs = c.kvmSplitPerTableNs;
    this.protectPerPageNs = c.kvmProtectPerPageNs;
  }

  override get gates(): EptGates {
    const g = this.gateSet;
    g.epoch = this.p2m.epoch;
    g.epochCount = this.p2m.epochCount;
    return g;
  }

  /** KVM_CLEAR_DIRTY_LOG's chunk (QEMU's clear-bitmap-shift) when manual protect is on; undefined when GET re-protects. */
  override get clearChunkShift(): number | undefined {
    return this.manual ? this.kvm.clearBitmapShift : undefined;
  }

  /** Manual protect with KVM_DIRTY_LOG_INITIALLY_SET (QEMU asks for both together, and only in bitmap mode). */
  protected get manual(): boolean {
    return this.kvm.manualProtect;
  }

  // ---- what the EPT refuses ----

  /** Never called: the walk gates are the always-open `open` array. */
  walkRefused(): void {}

  /** Never called: loads pass (KVM keeps every SPTE present and readable). */
  loadRefused(): void {}

  /**
   * The next wall time a QEMU thread of the tracker's acts on its own (the
   * ring's reaper, dirty-limit's period), Infinity for none. It runs at the
   * first refused store at or after it: every page a vCPU dirties is first
   * refused, so nothing it could see changes in between.
   */
  protected nextTickNs = Infinity;

  /** What is due at nextTickNs (the ring's threads). */
  protected tick(_wallNs: number): void {}

  /** A store to a page whose SPTE is write-protected, or whose D bit is clear (PML). */
  storeRefused(pfn: number, vcpu: number, wallNs: number): void {
    if (wallNs >= this.nextTickNs) this.tick(wallNs);
    if (vcpu === NO_VCPU) {
      // QEMU's own store (device emulation): its bitmap, no exit.
      if (this.logDirty) this.dirty.mark(pfn);
      return;
    }
    if (!this.logDirty) {
      this.writable[pfn] = this.p2m.epoch;
      return;
    }
    if (this.p2m.mapLevel[pfn >>> 9] !== MAP_4K) this.splitFault(pfn, vcpu, wallNs);
    else this.firstWrite4k(pfn, vcpu, wallNs);
  }

  /** A first write to a 4 KiB page this round: kvm-wp faults; PML logs unless the SPTE is write-protected. */
  protected firstWrite4k(pfn: number, vcpu: number, wallNs: number): void {
    this.wpFault(pfn, vcpu, wallNs);
  }

  /** fast_page_fault: the SPTE made writable, the page marked dirty. */
  protected wpFault(pfn: number, vcpu: number, wallNs: number): void {
    this.wpFaults++;
    this.charge(EVENT.npfExit, vcpu, wallNs, pfn, 0, this.wpFaultCostNs);
    this.writable[pfn] = this.p2m.epoch;
    this.record(pfn, vcpu, wallNs);
    this.afterExit(vcpu, wallNs);
  }

  /** kvm_tdp_mmu_map on a write-protected huge page while logging: split toward the page, map it writable. */
  protected splitFault(pfn: number, vcpu: number, wallNs: number): void {
    const tables = this.p2m.splitToward(pfn);
    this.splitFaults++;
    this.charge(EVENT.npfExit, vcpu, wallNs, pfn, 0, this.wpFaultCostNs);
    this.charge(EVENT.superpageSplit, vcpu, wallNs, pfn, tables, tables * this.splitPerTableNs);
    this.onSplitFault(pfn);
    this.writable[pfn] = this.p2m.epoch;
    this.record(pfn, vcpu, wallNs);
    this.afterExit(vcpu, wallNs);
  }

  /** The new 4 KiB SPTEs of a split inherit the huge SPTE's write protection (PML must fault on them, not log). */
  protected onSplitFault(_pfn: number): void {}

  /** A page written this round reaches KVM's record of it: the slot's bitmap (the ring overrides). */
  protected record(pfn: number, _vcpu: number, _wallNs: number): void {
    this.dirty.mark(pfn);
  }

  /** The vCPU is about to re-enter the guest after an exit (the ring checks its soft limit here). */
  protected afterExit(_vcpu: number, _wallNs: number): void {}

  /** Re-arms one page: write-protect (kvm-wp) or clear its D bit (PML). Either way its next write is refused. */
  protected protect(pfn: number): void {
    this.writable[pfn] = CLOSED;
  }

  /**
   * Kicks every vCPU that runs in the guest (an idle one is halted outside
   * it): a remote TLB flush after re-protecting, or a PML flush at a sync.
   * `flushPml`: the vCPU's buffer is flushed on the way (its cost is the
   * kicked vCPU's). Returns the entries flushed.
   */
  protected kickAll(wallNs: number, flushPml: boolean, except = -1): number {
    const clock = this.env.clock;
    const exitNs = this.env.costs.exitRoundTripNs;
    let flushed = 0;
    for (let v = 0; v < this.vcpus; v++) {
      if (v === except) continue;
      const n = flushPml ? this.flushPml(v, wallNs) : 0;
      flushed += n;
      if (clock.idleNow(v) === 1) continue;
      this.kickExits++;
      this.charge(EVENT.kickExit, v, wallNs, -1, n, exitNs + n * this.env.costs.pmlFlushPerEntryNs);
    }
    return flushed;
  }

  /** PML: drains the vCPU's buffer into KVM's record; returns the entries. */
  protected flushPml(_vcpu: number, _wallNs: number): number {
    return 0;
  }

  // ---- the dirty-log ioctls ----

  /** Enabling logging on the memslot (kvm_mmu_slot_apply_flags), on QEMU's thread. */
  override enable(wallNs: number): void {
    this.logDirty = true;
    this.dirty.reset();
    const p2m = this.p2m;
    p2m.retypeAll();
    const epoch = p2m.epoch;
    this.open.fill(epoch);
    const c = this.env.costs;
    let threadNs = c.logDirtyOpBaseNs;
    let tables = 0;
    if (this.manual) {
      // KVM_DIRTY_LOG_INITIALLY_SET: nothing protected, every bit set.
      this.writable.fill(epoch);
      this.dirty.markAll();
      // QEMU's setup sync (ram_init_bitmaps) GETs it at once: the slot's copy is all set, every chunk to clear.
      this.dirty.peek(this.fetched);
    } else {
      if (this.kvm.eagerPageSplit) tables = this.splitAll();
      // Every SPTE protected (the epoch closed every gate): a walk over the slot.
      threadNs += tables * this.splitPerTableNs + this.memPages * this.protectPerPageNs;
    }
    if (!this.manual) this.fetched.fill(0);
    this.onKvmEnable();
    this.opThreadNs = threadNs;
    this.threadOp(EVENT.logdirtyEnable, wallNs, -1, tables, threadNs);
  }

  /** What a subclass resets when logging starts (PML: no SPTE write-protected beyond the huge ones). */
  protected onKvmEnable(): void {}

  /** kvm_mmu_slot_try_split_huge_pages: every huge page down to 4 KiB. Returns the tables built. */
  private splitAll(): number {
    let tables = 0;
    for (let r = 0; r < this.p2m.regions; r++) if (this.p2m.mapLevel[r] !== MAP_4K) tables += this.p2m.splitToward(r << 9);
    this.eagerSplitTables += tables;
    return tables;
  }

  /** KVM_GET_DIRTY_LOG while the vCPUs run (QEMU's migration_bitmap_sync). */
  override clean(wallNs: number, into?: Uint32Array): Uint32Array {
    return this.getDirtyLog(EVENT.clean, wallNs, false, into);
  }

  /** The last GET, with the VM stopped: its time is downtime. */
  override final(wallNs: number, into?: Uint32Array): Uint32Array {
    return this.getDirtyLog(EVENT.final, wallNs, true, into);
  }

  /**
   * kvm_get_dirty_log_protect: kvm_arch_sync_dirty_log first (PML: each
   * vCPU kicked out to flush its buffer), then without manual protect the
   * bitmap is taken and zeroed and each page in it re-protected, with a
   * remote TLB flush; with manual protect it is only copied.
   */
  protected getDirtyLog(kind: number, wallNs: number, paused: boolean, into: Uint32Array | undefined): Uint32Array {
    const c = this.env.costs;
    let threadNs = this.syncVcpus(wallNs, paused);
    const count = this.dirty.dirtyCount;
    threadNs += c.kvmIoctlBaseNs + Math.ceil(this.memPages / PAGES_PER_LEAF) * c.cleanPerLeafNs;
    this.peakMemoryBytes();
    let bits: Uint32Array;
    if (this.manual) {
      bits = this.dirty.peek(into);
      // The slot's copy is the tracker's own: copied into, not allocated each GET.
      this.fetched.set(bits);
    } else {
      bits = this.dirty.clean(into);
      for (let w = 0; w < bits.length; w++) {
        let word = bits[w]!;
        while (word !== 0) {
          const b = 31 - Math.clz32(word & -word);
          word &= word - 1;
          this.protect((w << 5) + b);
        }
      }
      this.protectedPages += count;
      threadNs += count * this.protectPerPageNs;
      if (count > 0 && !paused) this.kickAll(wallNs, false);
    }
    this.finishSync(kind, wallNs, count, threadNs, paused);
    return bits;
  }

  /** kvm_arch_sync_dirty_log before a GET; returns its thread time (PML's kicks cost the vCPUs, not the thread). */
  protected syncVcpus(_wallNs: number, _paused: boolean): number {
    return 0;
  }

  /** Records a sync: a domain pause when the VM is stopped, the migration thread's time otherwise. */
  protected finishSync(kind: number, wallNs: number, count: number, threadNs: number, paused: boolean): void {
    if (paused) {
      this.opThreadNs = 0;
      this.pauseDomain(kind, wallNs, count, threadNs);
    } else {
      this.opThreadNs = threadNs;
      this.threadOp(kind, wallNs, -1, count, threadNs);
    }
  }

  /**
   * KVM_CLEAR_DIRTY_LOG of the chunk starting at `firstPfn`, with the
   * slot's copy of the last GET as the mask (kvm_log_clear_one_slot): per
   * 64-page word, kvm_arch_mmu_enable_log_dirty_pt_masked splits the huge
   * page under it (eager) or write-protects it whole at 2 MiB level, then
   * re-protects the pages in the mask; one remote TLB flush if any was.
   * Returns the time it took QEMU's migration thread.
   */
  override clearChunk(firstPfn: number, wallNs: number): number {
    const c = this.env.costs;
    const end = Math.min(this.memPages, firstPfn + 2 ** this.kvm.clearBitmapShift);
    const fetched = this.fetched;
    const epoch = this.p2m.epoch;
    let pages = 0;
    let tables = 0;
    // The chunk is aligned to at least 64 pages (clear-bitmap-shift >= 6): whole word pairs.
    for (let base = firstPfn; base < end; base += 64) {
      const w = base >>> 5;
      if ((fetched[w]! | (fetched[w + 1] ?? 0)) === 0) continue;
      if (this.p2m.mapLevel[base >>> 9] !== MAP_4K) {
        if (this.kvm.eagerPageSplit) {
          const t = this.p2m.splitToward(base);
          tables += t;
          this.eagerSplitTables += t;
        } else {
          // kvm_mmu_slot_gfn_write_protect at PG_LEVEL_2M: the whole huge entry.
          const first = this.p2m.entryFirstPfn(base);
          const n = this.p2m.entryPages(base);
          for (let p = first; p < first + n; p++) if (this.writable[p] === epoch) this.writable[p] = CLOSED;
        }
      }
      for (let k = w; k < w + 2 && k < fetched.length; k++) {
        let word = fetched[k]!;
        fetched[k] = 0;
        while (word !== 0) {
          const b = 31 - Math.clz32(word & -word);
          word &= word - 1;
          const pfn = (k << 5) + b;
          this.dirty.unmark(pfn);
          this.protect(pfn);
          pages++;
        }
      }
    }
    this.chunkClears++;
    this.protectedPages += pages;
    const threadNs = c.kvmIoctlBaseNs + Math.ceil((end - firstPfn) / PAGES_PER_LEAF) * c.cleanPerLeafNs + pages * this.protectPerPageNs + tables * this.splitPerTableNs;
    if (pages > 0) this.kickAll(wallNs, false);
    this.threadOp(EVENT.dirtyLogClear, wallNs, firstPfn, pages, threadNs);
    return threadNs;
  }

  // ---- the rest of the Tracker interface ----

  protected onWrite(pfn: number, _access: number, vcpu: number, wallNs: number): void {
    this.storeRefused(pfn, vcpu, wallNs);
  }

  protected onEnable(): void {}
  protected onClean(): void {}

  /** Logging off: every SPTE writable again (KVM zaps collapsible SPTEs and maps on demand; the model opens every gate). */
  protected onOff(): void {
    this.p2m.retypeAll();
    this.writable.fill(this.p2m.epoch);
    this.open.fill(this.p2m.epoch);
  }

  /** KVM's bitmap and the second half it allocates for GET's copy (kvm_alloc_dirty_bitmap), the tables splits built. */
  override memoryBytes(): number {
    return (this.logDirty ? 2 * Math.ceil(this.memPages / 8) : 0) + this.p2m.splitTables * 4096;
  }

  override stats(): Record<string, number> {
    const p = this.p2m;
    return {
      splitTables: p.splitTables,
      splits2m: p.splits2m,
      splits1g: p.splits1g,
      eagerSplitTables: this.eagerSplitTables,
      splitFaults: this.splitFaults,
      wpFaults: this.wpFaults,
      protectedPages: this.protectedPages,
      chunkClears: this.chunkClears,
      kickExits: this.kickExits,
    };
  }
}
