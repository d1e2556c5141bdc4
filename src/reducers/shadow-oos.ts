import { RunEventKind } from '../events/run-event-kind.js';
// Module-local, as in tracker.ts.
const EVENT = RunEventKind;

/** Out-of-sync L1s allowed per vCPU: SHADOW_OOS_PAGES in Xen's asm-x86/mm.h. */
export const SHADOW_OOS_PAGES = 3;

/**
 * Xen's out-of-sync L1 optimisation for shadow paging (SHOPT_OUT_OF_SYNC),
 * an option of the shadow tracker (DESIGN section 6): instead of emulating
 * every guest store into a page table, Xen lets a guest L1 go out of sync
 * with its shadow, lets the guest write it directly, and brings the shadow
 * up to date at the guest's next TLB flush.
 *
 * Follows xen/arch/x86/mm/shadow/oos.c (common.c in older trees) and
 * multi.c:
 * - Unsync (sh_page_fault calls sh_unsync on a demand write to a shadowed
 *   L1; sh_unsync, oos_hash_add): the first write to a guest L1 takes one
 *   shadow fault instead of an emulation, after which later stores to it
 *   cost nothing. Only L1s go out of sync, and only for HVM guests
 *   (sh_unsync refuses a PV vCPU; the tracker builds no ShadowOos for one).
 *   Xen also refuses a page with more than one shadow; the model checks only
 *   that the MMU sees the page as an L1.
 * - Slots (v->arch.paging.shadow.oos, SHADOW_OOS_PAGES per vCPU): a page
 *   takes slot pfn % SHADOW_OOS_PAGES of the vCPU that unsynced it, and the
 *   occupant is resynced to make room (oos_hash_add "crushes" it through
 *   _sh_resync). Xen first moves an occupant that sits in its own home slot
 *   to the next slot, a second chance the model does not give.
 * - Resync (sh_resync, _sh_resync, sh_resync_l1): one oosResync charge
 *   (oosResyncPerPageNs) for revalidating the L1 against its snapshot and
 *   write-protecting it again. A CR3 load is a TLB flush, and sh_update_cr3
 *   resyncs the loading vCPU's pages first (shadow_resync_current_vcpu, that
 *   is sh_resync_all for this vCPU): that is where the model resyncs. Xen
 *   then brings other vCPUs' out-of-sync shadows up to date, leaving those
 *   pages out of sync (shadow_sync_other_vcpus), and handles INVLPG
 *   likewise; neither is charged here.
 * - Propagation: Xen's shadow of an out-of-sync L1 is stale until its
 *   resync; here each direct write is propagated into the shadow at once,
 *   since the guest must flush its TLB before it may rely on the new entry,
 *   and the resync is charged where Xen does it. What the guest can observe
 *   through the shadows is the same.
 * - The page is dirtied when it turns writable to the guest and by each
 *   direct write (a no-op once it is dirty this round), as any store
 *   through a writable mapping is under log-dirty.
 * - Blowing the shadow tables drops every out-of-sync page with its shadow
 *   (shadow_demote calls oos_hash_remove), at no charge of its own.
 */
export class ShadowOos {
  /** The page out of sync in each slot (vCPU v's slots are v * SHADOW_OOS_PAGES + 0..2), -1 for none. */
  private readonly slotPfn: Int32Array;
  /** A bit per page: set while it is out of sync (its slot is the one slotPfn names it in); a bit, so pages never unsynced cost no memory. */
  private readonly outOfSync: Uint32Array;
  private readonly vcpus: number;

  // Counters for stats().
  private unsyncs = 0;
  private resyncs = 0;
  private evictions = 0;
  private nativeWrites = 0;

  constructor(
    vcpus: number,
    memPages: number,
    /** A shadow fault's cost (exit round trip plus the handler), as the tracker charges it. */
    private readonly faultCostNs: number,
    private readonly resyncCostNs: number,
    private readonly tracker: ShadowOosContext,
  ) {
    this.vcpus = vcpus;
    this.slotPfn = new Int32Array(vcpus * SHADOW_OOS_PAGES).fill(-1);
    this.outOfSync = new Uint32Array(Math.ceil(memPages / 32));
  }

  /**
   * A guest write of `pte` into entry `index` of page-table page `pfn`. An
   * L1 (and only an L1) that is out of sync is written natively: no exit.
   * The first write to an L1 that is not out of sync takes the write fault
   * that unsyncs it instead of an emulation, evicting (resyncing) whatever
   * held its slot. Returns false when the page is no L1 and must be
   * emulated as usual. `leafTable`: the page is live as an L1, and only as
   * one, at this write (the MMU's ACCESS_LEAF_TABLE for the event: asked of
   * the MMU after its chunk, the answer would be the chunk's end's).
   */
  write(pfn: number, index: number, pte: number, vcpu: number, wallNs: number, leafTable: boolean): boolean {
    const tracker = this.tracker;
    if ((this.outOfSync[pfn >>> 5]! & (1 << (pfn & 31))) !== 0) {
      tracker.propagate(pfn, index, pte);
      this.nativeWrites++;
      tracker.tableWritten(pfn);
      return true;
    }
    if (!leafTable || vcpu >= this.vcpus) return false;
    const k = vcpu * SHADOW_OOS_PAGES + (pfn % SHADOW_OOS_PAGES);
    if (this.slotPfn[k]! >= 0) {
      this.evictions++;
      this.resync(k, vcpu, wallNs);
    }
    this.slotPfn[k] = pfn;
    this.outOfSync[pfn >>> 5] = this.outOfSync[pfn >>> 5]! | (1 << (pfn & 31));
    this.unsyncs++;
    tracker.propagate(pfn, index, pte);
    tracker.charge(EVENT.shadowFault, vcpu, wallNs, pfn, 0, this.faultCostNs);
    // The page goes writable to the guest: it is dirty from now on, as Xen
    // marks it when it drops the write protection.
    tracker.tableWritten(pfn);
    return true;
  }

  /** sh_update_cr3's shadow_resync_current_vcpu: every page `vcpu` holds out of sync is resynced. */
  resyncVcpu(vcpu: number, wallNs: number): void {
    if (vcpu >= this.vcpus) return;
    for (let k = vcpu * SHADOW_OOS_PAGES; k < (vcpu + 1) * SHADOW_OOS_PAGES; k++) if (this.slotPfn[k]! >= 0) this.resync(k, vcpu, wallNs);
  }

  /** Blowing the tables drops every out-of-sync L1 with its shadow. */
  dropAll(): void {
    const slotPfn = this.slotPfn;
    for (let k = 0; k < slotPfn.length; k++) {
      const pfn = slotPfn[k]!;
      if (pfn >= 0) this.outOfSync[pfn >>> 5] = this.outOfSync[pfn >>> 5]! & ~(1 << (pfn & 31));
      slotPfn[k] = -1;
    }
  }

  stats(): Record<string, number> {
    return { oosUnsyncs: this.unsyncs, oosResyncs: this.resyncs, oosEvictions: this.evictions, ptWritesNative: this.nativeWrites };
  }

  /** sh_resync: revalidate the L1 against its shadow and write-protect it again. */
  private resync(k: number, vcpu: number, wallNs: number): void {
    const pfn = this.slotPfn[k]!;
    this.slotPfn[k] = -1;
    this.outOfSync[pfn >>> 5] = this.outOfSync[pfn >>> 5]! & ~(1 << (pfn & 31));
    this.resyncs++;
    this.tracker.charge(EVENT.oosResync, vcpu, wallNs, pfn, 0, this.resyncCostNs);
  }
}

/** What the out-of-sync machinery needs from the shadow tracker that owns it. */
export interface ShadowOosContext {
  /** sh_validate_guest_entry: the guest's new entry `index` of table `pfn` goes into the page's shadows. */
  propagate(pfn: number, index: number, pte: number): void;
  /** The guest has written page-table page `pfn`: dirty it if log-dirty is on. */
  tableWritten(pfn: number): void;
  /** Charges an exit or fault to a vCPU and records it as a run event (Tracker.charge). */
  charge(kind: number, vcpu: number, wallNs: number, pfn: number, arg: number, costNs: number): void;
}
