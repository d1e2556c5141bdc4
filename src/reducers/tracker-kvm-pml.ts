import { RunEventKind } from '../events/run-event-kind.js';
import { PAGES_2M } from './p2m-table.js';
import { KvmTracker } from './tracker-kvm.js';
import { PML_ENTRIES } from './tracker-pml.js';
import type { TrackerEnv, TrackerName } from './tracker.js';
// Module-local, as in tracker.ts.
const EVENT = RunEventKind;
const PML_ENTRY_BYTES = 8;

/**
 * KVM's dirty bitmap with Intel PML (kvm-pml, KVM's default on Intel):
 * logging clears the D bit of 4 KiB SPTEs instead of write-protecting them
 * (kvm_mmu_slot_leaf_clear_dirty at enable, kvm_mmu_clear_dirty_pt_masked at
 * GET or CLEAR), so a first write sets D and the processor appends the page
 * to the vCPU's 512-entry buffer with no exit; a write that finds the
 * buffer full exits first (arch/x86/kvm/vmx/vmx.c
 * EXIT_REASON_PML_FULL -> vmx_flush_pml_buffer, each entry through
 * kvm_vcpu_mark_page_dirty). Huge pages stay write-protected
 * (kvm_mmu_slot_remove_write_access at PG_LEVEL_2M) and split on their
 * first write; the 4 KiB SPTEs a split builds inherit the write protection,
 * so their first writes fault (fast_page_fault) rather than log, until a
 * GET or CLEAR re-arms them with D clear. Each GET first kicks every vCPU
 * out of the guest to flush its buffer (x86.c kvm_arch_sync_dirty_log:
 * kvm_vcpu_kick for each vCPU), so the bitmap it returns is complete; the
 * kick and the flush cost the kicked vCPU.
 *
 * Same exit per 512 newly dirtied pages as Xen's PML (tracker-pml.ts):
 * floor((N - 1) / 512) exits for N pages on one vCPU between flushes.
 */
export class KvmPmlTracker extends KvmTracker {
  override readonly name: TrackerName = 'kvm-pml';
  /** A bit per page: set while its 4 KiB SPTE is write-protected (a split's child) rather than D-clear. */
  private readonly wpSpte: Uint32Array;
  private readonly buffer: Int32Array;
  private readonly fill: Int32Array;
  private readonly fullExitCostNs: number;
  private loggedEntries = 0;
  private fullExitEntries = 0;
  private syncFlushEntries = 0;

  constructor(env: TrackerEnv) {
    super(env);
    this.wpSpte = new Uint32Array(Math.ceil(env.guest.memPages / 32));
    this.buffer = new Int32Array(env.guest.vcpus * PML_ENTRIES);
    this.fill = new Int32Array(env.guest.vcpus);
    const c = env.costs;
    this.fullExitCostNs = c.exitRoundTripNs + PML_ENTRIES * c.pmlFlushPerEntryNs;
  }

  protected override firstWrite4k(pfn: number, vcpu: number, wallNs: number): void {
    const w = pfn >>> 5;
    const bit = 1 << (pfn & 31);
    if ((this.wpSpte[w]! & bit) !== 0) {
      this.wpSpte[w] = this.wpSpte[w]! & ~bit;
      this.wpFault(pfn, vcpu, wallNs);
      return;
    }
    this.writable[pfn] = this.p2m.epoch;
    this.log(pfn, vcpu, wallNs);
  }

  protected override onSplitFault(pfn: number): void {
    // A 2 MiB region is 16 whole words (PAGES_2M is a multiple of 32); a tail past memPages is never looked at.
    const first = pfn - (pfn % PAGES_2M);
    this.wpSpte.fill(0xffffffff, first >>> 5, Math.min((first + PAGES_2M) >>> 5, this.wpSpte.length));
  }

  protected override onKvmEnable(): void {
    this.wpSpte.fill(0);
  }

  /** The processor logs the page, exiting first if the buffer is full. */
  private log(pfn: number, vcpu: number, wallNs: number): void {
    let n = this.fill[vcpu]!;
    if (n === PML_ENTRIES) {
      this.charge(EVENT.pmlFullExit, vcpu, wallNs, pfn, n, this.fullExitCostNs);
      this.fullExitEntries += this.flushPml(vcpu, wallNs);
      this.afterExit(vcpu, wallNs);
      n = 0;
    }
    this.buffer[vcpu * PML_ENTRIES + n] = pfn;
    this.fill[vcpu] = n + 1;
    this.loggedEntries++;
  }

  /** vmx_flush_pml_buffer: each logged page through kvm_vcpu_mark_page_dirty, the buffer emptied. */
  protected override flushPml(vcpu: number, wallNs: number): number {
    const n = this.fill[vcpu]!;
    const base = vcpu * PML_ENTRIES;
    for (let k = 0; k < n; k++) this.record(this.buffer[base + k]!, vcpu, wallNs);
    this.fill[vcpu] = 0;
    return n;
  }

  /** kvm_arch_sync_dirty_log: every vCPU kicked, its buffer flushed (the VM stopped: flushed as it stopped, on the pause). */
  protected override syncVcpus(wallNs: number, paused: boolean): number {
    if (paused) {
      let n = 0;
      for (let v = 0; v < this.vcpus; v++) n += this.flushPml(v, wallNs);
      this.syncFlushEntries += n;
      return n * this.env.costs.pmlFlushPerEntryNs;
    }
    this.syncFlushEntries += this.kickAll(wallNs, true);
    return 0;
  }

  override memoryBytes(): number {
    return super.memoryBytes() + this.vcpus * PML_ENTRIES * PML_ENTRY_BYTES;
  }

  override stats(): Record<string, number> {
    return { ...super.stats(), pmlLoggedEntries: this.loggedEntries, pmlFullExitEntries: this.fullExitEntries, pmlSyncFlushEntries: this.syncFlushEntries };
  }
}
