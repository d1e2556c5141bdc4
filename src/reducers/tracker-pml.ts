import type { EptGates } from './ept-gates.js';
import { RunEventKind } from '../events/run-event-kind.js';
import { MAP_4K } from './p2m-table.js';
import { HapTracker } from './tracker-hap.js';
import type { SuperpagePolicy, TrackerEnv, TrackerName } from './tracker.js';
// Module-local, as in tracker.ts.
const EVENT = RunEventKind;

/** Entries of a vCPU's PML buffer (Xen's NR_PML_ENTRIES, one 4 KiB page of 8-byte addresses). */
export const PML_ENTRIES = 512;
const PML_ENTRY_BYTES = 8;

/**
 * Intel Page Modification Logging on top of HAP: the hardware logs the
 * guest-physical address of each page whose EPT D bit it sets into the
 * vCPU's 512-entry buffer, and exits only when the buffer is full.
 *
 * Follows Xen's xen/arch/x86/mm/p2m-ept.c (ept_vcpu_flush_pml_buffer,
 * ept_p2m_type_to_flags, ept_enable_pml), hvm/vmx/vmx.c (vmx_vmexit_handler's
 * EXIT_REASON_PML_FULL case) and mm/paging.c (Xen trees from before a 2025
 * move have the flush as vmx_vcpu_flush_pml_buffer in hvm/vmx/vmcs.c):
 * - Log-dirty types are set lazily as for HAP (misconfig exits per leaf
 *   table per round), but ept_p2m_type_to_flags leaves a 4 KiB
 *   p2m_ram_logdirty entry writable with D clear: the first write of the
 *   round sets D and appends the page to the buffer, with no exit. A write
 *   that finds the buffer full exits first (pml_full_exit); the handler marks
 *   each of the 512 logged pages dirty, and the write then logs into the
 *   emptied buffer. So N newly dirtied pages on one vCPU cost
 *   floor((N - 1) / 512) exits.
 * - Every log-dirty PEEK/CLEAN/FINAL first flushes every vCPU's buffer
 *   (paging_log_dirty_op pauses the domain, then
 *   p2m_flush_hardware_cached_dirty runs ept_vcpu_flush_pml_buffer for each
 *   vCPU): the per-entry cost is part of that domain pause, so it is added
 *   to the operation's cost, and the bitmap it returns is complete.
 * - ept_enable_pml turns on EPT accessed/dirty flags, and with them the
 *   processor treats its own accesses to guest paging structures as writes
 *   (Intel SDM vol. 3C, 28.2.4 in the edition cited): every guest
 *   page-table page a walk reads gets its EPT D bit set, and is logged,
 *   once per round. PML therefore reports the page-table pages the guest
 *   walked as dirty even when no A/D bit in them changed; HAP does not.
 * - Device and backend writes (phys_write with no vCPU) are marked with
 *   paging_mark_dirty directly, as for HAP.
 *
 * Superpages (env.superpages, DESIGN section 6; seed 003): the D bit of a
 * 2 MiB or 1 GiB entry is one bit for its whole range and the processor logs
 * only the address written first.
 * - `split` is Xen: a log-dirty superpage stays write-protected, the first
 *   write takes an NPF and splits it as HAP does (the written page is marked
 *   by the NPF handler), and the 4 KiB entries after the split are logged.
 * - `whole`: the superpage is writable with D clear; the first write sets D
 *   and logs the page written; the handler marks every page of the range
 *   dirty. Nothing is lost, the dirty set is inflated.
 * - `logged-only`: the same hardware behaviour, but the handler marks only
 *   the logged page. Later writes to the rest of the range that round find D
 *   set, are never logged, and are lost; the oracle reports them.
 * Neither hypothetical policy splits: the handler does not change the type
 * of a superpage it flushes.
 */
export class PmlTracker extends HapTracker {
  override readonly name: TrackerName = 'pml';
  readonly superpagePolicy: SuperpagePolicy;
  private readonly splitSuperpages: boolean;
  private readonly markWholeRange: boolean;
  /** vcpus * PML_ENTRIES logged pfns; vCPU v's entries start at v * PML_ENTRIES. */
  private readonly buffer: Int32Array;
  /** Entries in each vCPU's buffer. */
  private readonly fill: Int32Array;
  private readonly fullExitCostNs: number;
  private readonly flushPerEntryNs: number;
  /** Flush cost of the log-dirty operation under way, added to its domain pause. */
  private opFlushNs = 0;
  private loggedEntries = 0;
  private fullExitEntries = 0;
  private opFlushEntries = 0;
  /** Pages `whole` marked beyond the ones logged. */
  private wholeRangePages = 0;

  constructor(env: TrackerEnv) {
    super(env);
    this.superpagePolicy = env.superpages;
    this.splitSuperpages = env.superpages === 'split';
    this.markWholeRange = env.superpages === 'whole';
    this.buffer = new Int32Array(env.guest.vcpus * PML_ENTRIES);
    this.fill = new Int32Array(env.guest.vcpus);
    const c = env.costs;
    this.flushPerEntryNs = c.pmlFlushPerEntryNs;
    this.fullExitCostNs = c.exitRoundTripNs + PML_ENTRIES * c.pmlFlushPerEntryNs;
  }

  /**
   * With EPT A/D on (log-dirty on), the walk's reads of guest page-table
   * pages are writes: a table passes once its D bit is set this epoch.
   */
  override get gates(): EptGates {
    const g = super.gates;
    g.walk = this.logDirty ? this.writableEpoch : this.recalcEpoch;
    g.walkShift = this.logDirty ? 0 : 9;
    return g;
  }

  override walkRefused(ptPfn: number, vcpu: number, wallNs: number): void {
    if (this.logDirty) this.firstWrite(ptPfn, vcpu, wallNs);
    else super.walkRefused(ptPfn, vcpu, wallNs);
  }

  /** A write to a log-dirty entry: 4 KiB entries are writable with D clear. */
  protected override logDirtyWrite(pfn: number, vcpu: number, wallNs: number): void {
    const p2m = this.p2m;
    if (p2m.mapLevel[pfn >>> 9] === MAP_4K) {
      this.writableEpoch[pfn] = p2m.epoch;
    } else if (this.splitSuperpages) {
      this.npfWrite(pfn, vcpu, wallNs);
      return;
    } else {
      // One D bit for the whole superpage: no later write to it logs this round.
      p2m.setEntryWritable(pfn);
    }
    this.log(pfn, vcpu, wallNs);
  }

  /** The processor appends to the vCPU's buffer, exiting first if it is full. */
  private log(pfn: number, vcpu: number, wallNs: number): void {
    let n = this.fill[vcpu]!;
    if (n === PML_ENTRIES) {
      this.charge(EVENT.pmlFullExit, vcpu, wallNs, pfn, n, this.fullExitCostNs);
      this.fullExitEntries += this.drain(vcpu);
      n = 0;
    }
    this.buffer[vcpu * PML_ENTRIES + n] = pfn;
    this.fill[vcpu] = n + 1;
    this.loggedEntries++;
  }

  /** ept_vcpu_flush_pml_buffer: marks each logged page dirty and empties the buffer. */
  private drain(vcpu: number): number {
    const n = this.fill[vcpu]!;
    const base = vcpu * PML_ENTRIES;
    for (let k = 0; k < n; k++) this.markLogged(this.buffer[base + k]!);
    this.fill[vcpu] = 0;
    return n;
  }

  private markLogged(pfn: number): void {
    this.dirty.mark(pfn);
    if (this.markWholeRange && this.p2m.mapLevel[pfn >>> 9] !== MAP_4K) {
      const first = this.p2m.entryFirstPfn(pfn);
      const end = first + this.p2m.entryPages(pfn);
      for (let p = first; p < end; p++) if (this.dirty.mark(p)) this.wholeRangePages++;
    }
  }

  protected override flushLogs(_wallNs: number): void {
    let entries = 0;
    for (let v = 0; v < this.fill.length; v++) if (this.fill[v] !== 0) entries += this.drain(v);
    this.opFlushEntries += entries;
    this.opFlushNs += entries * this.flushPerEntryNs;
  }

  /** The domctl's pause includes flushing every vCPU's buffer (paging_log_dirty_op). */
  protected override logDirtyOpCostNs(): number {
    const cost = super.logDirtyOpCostNs() + this.opFlushNs;
    this.opFlushNs = 0;
    return cost;
  }

  protected override onOff(): void {
    // OFF's own flush (vmx_domain_disable_pml) is inside its fixed-cost pause.
    this.opFlushNs = 0;
    super.onOff();
  }

  override memoryBytes(): number {
    return super.memoryBytes() + this.fill.length * PML_ENTRIES * PML_ENTRY_BYTES;
  }

  override stats(): Record<string, number> {
    return {
      ...super.stats(),
      pmlLoggedEntries: this.loggedEntries,
      pmlFullExitEntries: this.fullExitEntries,
      pmlOpFlushEntries: this.opFlushEntries,
      wholeRangeExtraPages: this.wholeRangePages,
    };
  }
}
