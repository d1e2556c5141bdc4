import type { EptExitHandler, EptGates } from './ept-gates.js';
import { NO_VCPU } from '../events/guest-event-kind.js';
import { RunEventKind } from '../events/run-event-kind.js';
import { MAP_4K, P2mTable } from './p2m-table.js';
import { Tracker, type TrackerEnv, type TrackerName } from './tracker.js';
// Module-local, as in tracker.ts.
const EVENT = RunEventKind;

/**
 * HAP log-dirty: the guest's own page tables are walked by the hardware, and
 * the p2m (Intel EPT) below them is what the hypervisor write-protects.
 *
 * Follows Xen's xen/arch/x86/mm/hap/hap.c and mm/p2m-ept.c:
 * - hap_enable_log_dirty and hap_clean_dirty_bitmap change every RAM entry
 *   to p2m_ram_logdirty with p2m_change_entry_type_global, which is lazy:
 *   only the root is invalidated (its O(1) cost is inside the domctl's
 *   domain pause that the base class charges). Each leaf table, or
 *   superpage entry, is recomputed on its first access afterwards (read or
 *   write, by the guest or by the hardware walking the guest's page tables,
 *   whose pages are guest-physical too) through one EPT misconfiguration
 *   exit (resolve_misconfig): one misconfig_exit per leaf table touched per
 *   round. hap_disable_log_dirty (OFF) does the same back to p2m_ram_rw.
 * - A write to a p2m_ram_logdirty page is an EPT violation:
 *   hvm_hap_nested_page_fault marks the page in the log-dirty bitmap
 *   (paging_mark_pfn_dirty) and changes its type back to p2m_ram_rw
 *   (p2m_change_type_one), so later writes that round are free: one
 *   npf_exit per first write per page per round.
 * - A write into a log-dirty superpage first splits it
 *   (ept_split_super_page): a 2 MiB entry becomes a table of 512 4 KiB
 *   entries, a 1 GiB one becomes 512 tables of them plus the table of 2 MiB
 *   entries (Xen splits all of them, not just the one written). Only the
 *   page written becomes writable and dirty; split entries stay split.
 *   superpage_split charges superpageSplitNs per table built (the cost
 *   model's figure is for one 2 MiB split, i.e. one table of 512 entries).
 * - Stores that do not go through the EPT (a phys_write with no vCPU: a
 *   backend or device DMA) are marked with paging_mark_dirty and take no
 *   exit; they leave the p2m entry as it is. A phys_write by a vCPU is a
 *   guest store by guest-physical address: it goes through the EPT.
 * - The hardware walker's A/D stores into guest page-table pages are writes
 *   through the EPT and fault like any write (the base class routes them to
 *   onAdStore).
 *
 * env.superpages is PML's policy and does not apply: without PML, a log-dirty
 * superpage can only be write-protected, so HAP always splits.
 */
export class HapTracker extends Tracker implements EptExitHandler {
  readonly name: TrackerName = 'hap';
  protected readonly p2m: P2mTable;
  protected readonly writableEpoch: Uint8Array;
  protected readonly recalcEpoch: Uint8Array;
  /** The walk's first slot a data access reads through the EPT: PAE's PDPTEs are loaded at CR3 load instead. */
  protected readonly walkFrom: number;
  protected readonly gateSet: EptGates;
  private readonly npfCostNs: number;
  private readonly misconfigCostNs: number;
  private readonly splitPerTableNs: number;

  constructor(env: TrackerEnv) {
    super(env);
    this.p2m = new P2mTable(env.guest.memPages, env.p2m);
    this.writableEpoch = this.p2m.writableEpoch;
    this.recalcEpoch = this.p2m.recalcEpoch;
    this.walkFrom = env.guest.paging === 'pae' ? 1 : 0;
    this.gateSet = { epoch: 0, epochCount: 0, write: this.writableEpoch, read: this.recalcEpoch, walk: this.recalcEpoch, walkShift: 9, walkFrom: this.walkFrom, cr3Exits: this.walkFrom !== 0, handler: this };
    const c = env.costs;
    this.npfCostNs = c.exitRoundTripNs + c.npfHandleNs;
    this.misconfigCostNs = c.exitRoundTripNs + c.misconfigRecalcPerTableNs;
    this.splitPerTableNs = c.superpageSplitNs;
  }

  // ---- what the EPT refuses (the base loop checks the gates) ----

  /**
   * A page passes writes once writable this epoch (ram_rw, or PML's D set);
   * a 2 MiB region passes loads once recalculated; the walk's reads of guest
   * page tables are loads.
   */
  override get gates(): EptGates {
    const g = this.gateSet;
    g.epoch = this.p2m.epoch;
    g.epochCount = this.p2m.epochCount;
    return g;
  }

  /** Unused: the gates send every store of a gated tracker to storeRefused (the base class requires the hook). */
  protected onWrite(pfn: number, _access: number, vcpu: number, wallNs: number): void {
    this.storeRefused(pfn, vcpu, wallNs);
  }

  /** PAE: MOV CR3 loads the four PDPTEs from the root page, through the EPT. */
  protected override onCr3Load(rootPfn: number, vcpu: number, wallNs: number): void {
    if (this.walkFrom !== 0 && this.recalcEpoch[rootPfn >>> 9] !== this.p2m.epoch) this.misconfig(rootPfn, vcpu, wallNs);
  }

  /** A guest page-table page the walk read, in a region still to recalculate. */
  walkRefused(ptPfn: number, vcpu: number, wallNs: number): void {
    this.misconfig(ptPfn, vcpu, wallNs);
  }

  /** A store (the walk's A/D stores included) to a page not writable this epoch. */
  storeRefused(pfn: number, vcpu: number, wallNs: number): void {
    this.firstWrite(pfn, vcpu, wallNs);
  }

  /** A load in a region still to recalculate. */
  loadRefused(pfn: number, vcpu: number, wallNs: number): void {
    this.misconfig(pfn, vcpu, wallNs);
  }

  // ---- slow paths ----

  /** A store to a page whose entry is not writable this epoch. */
  protected firstWrite(pfn: number, vcpu: number, wallNs: number): void {
    if (vcpu === NO_VCPU) {
      // A device or backend: paging_mark_dirty, no exit, p2m untouched.
      if (this.logDirty) this.dirty.mark(pfn);
      return;
    }
    const p2m = this.p2m;
    if (this.recalcEpoch[pfn >>> 9] !== p2m.epoch) this.misconfig(pfn, vcpu, wallNs);
    // With log-dirty off the recalculation made the entry ram_rw.
    if (this.writableEpoch[pfn] === p2m.epoch || !this.logDirty) return;
    this.logDirtyWrite(pfn, vcpu, wallNs);
  }

  /** A write to a p2m_ram_logdirty entry (recalculated this epoch). HAP: it is read-only. */
  protected logDirtyWrite(pfn: number, vcpu: number, wallNs: number): void {
    this.npfWrite(pfn, vcpu, wallNs);
  }

  /** EPT violation on a read-only log-dirty entry: split a superpage, mark dirty, make the page writable. */
  protected npfWrite(pfn: number, vcpu: number, wallNs: number): void {
    const p2m = this.p2m;
    const tables = p2m.mapLevel[pfn >>> 9] !== MAP_4K ? p2m.split(pfn) : 0;
    this.charge(EVENT.npfExit, vcpu, wallNs, pfn, 0, this.npfCostNs);
    if (tables > 0) this.charge(EVENT.superpageSplit, vcpu, wallNs, pfn, tables, tables * this.splitPerTableNs);
    this.writableEpoch[pfn] = p2m.epoch;
    this.dirty.mark(pfn);
  }

  /** EPT misconfiguration: resolve_misconfig recomputes the leaf table or superpage entry mapping `pfn`. */
  protected misconfig(pfn: number, vcpu: number, wallNs: number): void {
    const pages = this.p2m.recalc(pfn, this.logDirty);
    this.charge(EVENT.misconfigExit, vcpu, wallNs, pfn, pages, this.misconfigCostNs);
  }

  // ---- log-dirty operations ----

  protected onEnable(): void {
    this.p2m.retypeAll();
  }

  protected onClean(): void {
    this.p2m.retypeAll();
  }

  /** hap_disable_log_dirty: back to ram_rw, lazily, like enable; split entries stay split. */
  protected onOff(): void {
    this.p2m.retypeAll();
  }

  override memoryBytes(): number {
    return super.memoryBytes() + this.p2m.splitTables * 4096;
  }

  override stats(): Record<string, number> {
    const p = this.p2m;
    const sp = p.superpages();
    return {
      splitTables: p.splitTables,
      splits2m: p.splits2m,
      splits1g: p.splits1g,
      superpages2m: sp.entries2m,
      superpages1g: sp.entries1g,
    };
  }
}
