import { RunEventKind } from '../events/run-event-kind.js';
import { PML_ENTRIES } from './tracker-pml.js';
import { DIRTY_LIMIT_PERIOD_NS, DirtyLimit } from './kvm-dirty-limit.js';
import { KvmPmlTracker } from './tracker-kvm-pml.js';
import type { TrackerEnv, TrackerName } from './tracker.js';
// Module-local, as in tracker.ts.
const EVENT = RunEventKind;

/** KVM_DIRTY_RING_RSVD_ENTRIES (include/linux/kvm_dirty_ring.h): slack for writes KVM makes outside the vCPU's run loop. */
export const DIRTY_RING_RSVD_ENTRIES = 64;
/** sizeof(struct kvm_dirty_gfn): flags, slot, offset. */
const DIRTY_GFN_BYTES = 16;
/** QEMU's reaper thread sleeps a second between rounds (accel/kvm/kvm-all.c kvm_dirty_ring_reaper_thread). */
export const REAPER_INTERVAL_NS = 1_000_000_000;

/**
 * KVM's dirty ring (kvm-ring): each vCPU pushes the pages it dirties onto a
 * ring of its own instead of a bitmap (virt/kvm/dirty_ring.c
 * kvm_dirty_ring_push, from mark_page_dirty_in_slot), here on top of PML as
 * on Intel (the PML buffer is flushed into the ring, which is why the ring
 * reserves PML's 512 entries). Follows:
 * - virt/kvm/dirty_ring.c: kvm_dirty_ring_get_rsvd_entries is
 *   KVM_DIRTY_RING_RSVD_ENTRIES (64) plus kvm_cpu_dirty_log_size() (PML's
 *   512); the soft limit is the size less that; kvm_dirty_ring_soft_full
 *   is checked before the vCPU re-enters the guest (x86.c vcpu_enter_guest,
 *   kvm_dirty_ring_check_request), so the exit comes at the first flush
 *   (a PML-full exit, a fault) that leaves the ring at or over it:
 *   KVM_EXIT_DIRTY_RING_FULL to QEMU.
 * - accel/kvm/kvm-all.c: on that exit the vCPU's own thread reaps every
 *   vCPU's ring (kvm_dirty_ring_reap, kvm_dirty_ring_reap_one: each gfn
 *   into the slot's bitmap) and calls KVM_RESET_DIRTY_RINGS, which
 *   re-protects each page collected (kvm_dirty_ring_reset ->
 *   kvm_reset_dirty_gfn -> kvm_arch_mmu_enable_log_dirty_pt_masked: PML's D
 *   bit cleared) and flushes remote TLBs. The whole exit costs the writing
 *   vCPU (dirty_ring_full_exit: the exit to QEMU and back, the reaping, the
 *   reset); the others only take the TLB flush (kick_exit). Under
 *   dirty-limit only that vCPU's ring is reaped (dirtylimit_in_service),
 *   and it then sleeps (dirtylimit_vcpu_execute): see kvm-dirty-limit.ts.
 * - kvm_dirty_ring_reaper_thread reaps every ring once a second, on its own
 *   thread (dirty_ring_reap: no vCPU stalls but for the TLB flush). It runs
 *   here at the first push at or after each second: rings change only at
 *   pushes, so it finds what it would have found on the second.
 * - Each migration sync (kvm_log_sync_global -> kvm_dirty_ring_flush) kicks
 *   every vCPU so that its PML buffer reaches its ring
 *   (kvm_cpu_synchronize_kick_all), reaps every ring, resets, and hands the
 *   slot's bitmap over, cleared (kvm_slot_sync_dirty_pages).
 * The bitmap (`dirty`) is here QEMU's per-slot one the reaps fill; KVM_GET
 * and KVM_CLEAR_DIRTY_LOG are not used in ring mode.
 */
export class KvmRingTracker extends KvmPmlTracker {
  override readonly name: TrackerName = 'kvm-ring';
  readonly ringSize: number;
  readonly softLimit: number;
  /** vcpus * ringSize gfns; vCPU v's ring starts at v * ringSize. */
  private readonly ring: Int32Array;
  /** Entries pushed and not yet reset, per vCPU. */
  protected readonly used: Int32Array;
  private nextReapNs = Infinity;
  private nextPeriodNs = Infinity;
  /** dirty-limit once the migration asked for it (migration_dirty_limit_guest). */
  protected limit: DirtyLimit | undefined;
  /** Entries reaped from each vCPU's ring since the rate thread's last period (cpu->dirty_pages). */
  private readonly reapedByVcpu: Int32Array;
  private limitSleeps = 0;
  private readonly reapPerEntryNs: number;
  private readonly resetPerEntryNs: number;
  private readonly fullExitBaseNs: number;
  protected ringFullExits = 0;
  private reaperReaps = 0;
  private pushes = 0;
  private maxUsed = 0;

  constructor(env: TrackerEnv) {
    super(env);
    this.ringSize = this.kvm.dirtyRingSize;
    this.softLimit = this.ringSize - (DIRTY_RING_RSVD_ENTRIES + PML_ENTRIES);
    this.ring = new Int32Array(env.guest.vcpus * this.ringSize);
    this.used = new Int32Array(env.guest.vcpus);
    this.reapedByVcpu = new Int32Array(env.guest.vcpus);
    const c = env.costs;
    this.reapPerEntryNs = c.ringReapPerEntryNs;
    this.resetPerEntryNs = c.kvmProtectPerPageNs;
    this.fullExitBaseNs = c.exitRoundTripNs + c.kvmUserspaceExitNs + c.kvmIoctlBaseNs;
  }

  /** Ring mode has no KVM_CLEAR_DIRTY_LOG: QEMU enables manual protect only for the bitmap (kvm_init). */
  protected override get manual(): boolean {
    return false;
  }

  /** kvm_dirty_ring_push. */
  protected override record(pfn: number, vcpu: number, _wallNs: number): void {
    const n = this.used[vcpu]!;
    this.ring[vcpu * this.ringSize + n] = pfn;
    this.used[vcpu] = n + 1;
    this.pushes++;
    if (n + 1 > this.maxUsed) this.maxUsed = n + 1;
  }

  /** kvm_dirty_ring_check_request on the way back into the guest. */
  protected override afterExit(vcpu: number, wallNs: number): void {
    if (this.used[vcpu]! >= this.softLimit) this.ringFull(vcpu, wallNs);
  }

  /** KVM_EXIT_DIRTY_RING_FULL handled on the vCPU's thread: reap (every ring, or its own under dirty-limit), reset. */
  protected ringFull(vcpu: number, wallNs: number): void {
    const entries = this.reapOnly(vcpu) ? this.reapOne(vcpu) : this.reapAll();
    this.ringFullExits++;
    this.charge(EVENT.dirtyRingFullExit, vcpu, wallNs, -1, entries, this.fullExitBaseNs + entries * (this.reapPerEntryNs + this.resetPerEntryNs));
    if (entries > 0) this.kickAll(wallNs, false, vcpu);
    this.afterRingFull(vcpu, wallNs);
  }

  /** Whether a ring-full exit reaps only its own vCPU's ring: dirty-limit in service (kvm_cpu_exec's KVM_EXIT_DIRTY_RING_FULL). */
  protected reapOnly(_vcpu: number): boolean {
    return this.limit !== undefined;
  }

  /** dirtylimit_vcpu_execute: a limited vCPU sleeps before it re-enters the guest. */
  protected afterRingFull(vcpu: number, wallNs: number): void {
    const us = this.limit?.throttleUs[vcpu] ?? 0;
    if (us > 0) {
      this.limitSleeps++;
      this.charge(EVENT.dirtyLimitSleep, vcpu, wallNs, -1, us, us * 1000);
    }
  }

  // ---- QEMU's threads: the reaper and dirty-limit's rate thread ----

  /** Whether QEMU's dirty-limit capability is on (kvm-ring with a quota). */
  override get dirtyLimitConfigured(): boolean {
    return this.kvm.dirtyLimitBytesPerSec > 0;
  }

  /**
   * migration_dirty_limit_guest: QEMU puts every vCPU under the quota
   * (qmp_set_vcpu_dirty_limit -> dirtylimit_init), and the rate thread
   * starts its periods.
   */
  override startDirtyLimit(wallNs: number): void {
    if (this.limit !== undefined || !this.dirtyLimitConfigured) return;
    this.limit = new DirtyLimit(this.vcpus, this.ringSize, this.kvm.dirtyLimitBytesPerSec);
    this.reapedByVcpu.fill(0);
    this.nextPeriodNs = wallNs + DIRTY_LIMIT_PERIOD_NS;
    this.nextTickNs = Math.min(this.nextReapNs, this.nextPeriodNs);
  }

  /** The reaper's second and the rate thread's periods that are due, in time order. */
  protected override tick(wallNs: number): void {
    while (Math.min(this.nextReapNs, this.nextPeriodNs) <= wallNs) {
      if (this.nextReapNs <= this.nextPeriodNs) {
        this.reaperRound(wallNs);
        this.nextReapNs += REAPER_INTERVAL_NS;
      } else {
        this.ratePeriod(wallNs);
        this.nextPeriodNs += DIRTY_LIMIT_PERIOD_NS;
      }
    }
    this.nextTickNs = Math.min(this.nextReapNs, this.nextPeriodNs);
  }

  /**
   * vcpu_dirty_rate_stat_collect then dirtylimit_process: the period ends
   * with a ring flush (global_dirty_log_sync: every vCPU kicked, every ring
   * reaped), each vCPU's pages reaped in it give its rate, and its sleep is
   * adjusted. A period with no refused store in it reaped nothing.
   */
  private ratePeriod(wallNs: number): void {
    this.kickAll(wallNs, true);
    this.reaperRound(wallNs);
    this.limit!.endPeriod(this.reapedByVcpu);
    this.reapedByVcpu.fill(0);
  }

  /** The reaper thread's round: every ring collected and reset. */
  private reaperRound(wallNs: number): void {
    const entries = this.reapAll();
    this.reaperReaps++;
    this.threadOp(EVENT.dirtyRingReap, wallNs, -1, entries, this.env.costs.kvmIoctlBaseNs + entries * (this.reapPerEntryNs + this.resetPerEntryNs));
    if (entries > 0) this.kickAll(wallNs, false);
  }

  protected reapAll(): number {
    let n = 0;
    for (let v = 0; v < this.vcpus; v++) n += this.reapOne(v);
    return n;
  }

  /** kvm_dirty_ring_reap_one then kvm_dirty_ring_reset: each gfn into the slot's bitmap, its page re-protected. */
  protected reapOne(vcpu: number): number {
    const n = this.used[vcpu]!;
    const base = vcpu * this.ringSize;
    for (let k = 0; k < n; k++) {
      const pfn = this.ring[base + k]!;
      this.dirty.mark(pfn);
      this.protect(pfn);
    }
    this.used[vcpu] = 0;
    this.reapedByVcpu[vcpu] = this.reapedByVcpu[vcpu]! + n;
    this.protectedPages += n;
    return n;
  }

  override enable(wallNs: number): void {
    // The ring has no bitmap to set: nothing is protected until first written and reset.
    super.enable(wallNs);
    this.used.fill(0);
    this.nextReapNs = wallNs + REAPER_INTERVAL_NS;
    this.nextTickNs = this.nextReapNs;
  }

  /** kvm_dirty_ring_flush: kick (buffers into rings), reap, reset; then the slot's bitmap is taken. */
  protected override getDirtyLog(kind: number, wallNs: number, paused: boolean, into: Uint32Array | undefined): Uint32Array {
    const c = this.env.costs;
    let threadNs = this.syncVcpus(wallNs, paused);
    const entries = this.reapAll();
    if (entries > 0 && !paused) this.kickAll(wallNs, false);
    threadNs += c.kvmIoctlBaseNs + entries * (this.reapPerEntryNs + this.resetPerEntryNs);
    this.peakMemoryBytes();
    const count = this.dirty.dirtyCount;
    const bits = this.dirty.clean(into);
    this.finishSync(kind, wallNs, count, threadNs, paused);
    return bits;
  }

  override clearChunk(): number {
    throw new Error('kvm-ring has no KVM_CLEAR_DIRTY_LOG');
  }

  /** The rings (16 bytes an entry) instead of KVM's bitmaps, QEMU's slot bitmap, the split tables, the PML buffers. */
  override memoryBytes(): number {
    return super.memoryBytes() + this.vcpus * this.ringSize * DIRTY_GFN_BYTES;
  }

  override stats(): Record<string, number> {
    return { ...super.stats(), ringSize: this.ringSize, ringSoftLimit: this.softLimit, ringPushes: this.pushes, ringFullExits: this.ringFullExits, reaperReaps: this.reaperReaps, ringMaxUsed: this.maxUsed, ...(this.limit ? { dirtyLimitPeriods: this.limit.periods, dirtyLimitSleeps: this.limitSleeps } : {}) };
  }
}
