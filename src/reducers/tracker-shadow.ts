import type { GuestBatch } from '../events/guest-batch.js';
import { NO_VCPU } from '../events/guest-event-kind.js';
import { RunEventKind } from '../events/run-event-kind.js';
import { PTE_FLAG_BITS, PTE_P, PTE_PS } from '../model/pte.js';
import { CostModelError } from '../model/cost-model.js';
import { ACCESS_1G, ACCESS_2M, ACCESS_PT_PAGE, type MmuOutput } from './mmu.js';
import { FL1_LEVEL, ROW_WORDS, ShadowPool } from './shadow-pool.js';
import { Tracker, type TrackerEnv } from './tracker.js';
// Module-local, as in tracker.ts.
const EVENT = RunEventKind;

/** builtSeq of an L1/FL1 shadow built with log-dirty off: its entries are writable. */
const BUILT_WRITABLE = 0x7fff_ffff;

/** Entries of the shadow-walk cache (a power of two), and the hash shift that indexes it. */
const WALK_CACHE_BITS = 9;
const WALK_CACHE_ENTRIES = 1 << WALK_CACHE_BITS;
const WALK_CACHE_SHIFT = 32 - WALK_CACHE_BITS;

/**
 * Xen's shadow paging as the dirty-page tracker (DESIGN section 6, seed 002).
 * The hardware walks shadow tables that Xen builds on demand from the
 * guest's; a PV guest runs in direct mode and is put into shadow mode only
 * while log-dirty is on, an HVM guest without HAP is shadowed always.
 *
 * Follows xen/arch/x86/mm/shadow/multi.c and common.c:
 *
 * - Shadows (sh_page_fault, shadow_get_and_create_l1e). One shadow per guest
 *   page-table page per level, an FL1 shadow per guest 2 MiB mapping, each
 *   taking costs.shadowPagesPerTable pages of a pool of costs.shadowPoolPages
 *   (shadow-pool.ts). The walk of event i must find, from the top-level
 *   shadow in its vCPU's CR3, a present shadow entry at every level down to
 *   the L1 (or FL1) shadow. When it does not, the access takes one shadow
 *   fault (shadowFault: exitRoundTripNs + shadowFaultNs, arg = shadows
 *   built) and the handler builds each missing shadow on the path
 *   (shadowRebuild each: shadowRebuildPerTableNs, arg = pool pages) and links
 *   the path: a walk with missing shadows is one fault plus N rebuilds. A
 *   shadow that exists but is not linked from this parent yet (a kernel L3
 *   shared by every address space, seen from a new top-level shadow) costs
 *   the fault and no rebuild, as in Xen. A built shadow counts as fully
 *   propagated: Xen fills L1 entries on demand with prefetch; the rebuild
 *   cost stands for that work, so reads through an existing shadow are free.
 * - Log-dirty (_sh_propagate, shadow_mode_log_dirty): an L1 shadow entry is
 *   writable only if its page was already dirty when the entry was
 *   propagated, or after a write fault through it. The first write to a
 *   page not dirty this round faults, marks it dirty and makes the entry
 *   writable; later writes through that entry are free. Another mapping of
 *   the page whose shadow entry was propagated before the page became dirty
 *   faults once too (Xen does the same); one propagated afterwards is
 *   writable at once. Each L1/FL1 shadow keeps a writable bit per entry
 *   (set by a write fault, or by a pt_write that propagates the entry to a
 *   page already dirty) and the sequence number of its build; each page
 *   keeps the sequence number at which it became dirty this round.
 * - Guest A and D bits (_sh_propagate, guest_walk_tables): a shadow entry is
 *   not present while the guest's A bit is clear and read-only while a leaf's
 *   D bit is clear, so the hardware never sets guest A/D under shadow paging:
 *   Xen does, in the fault that propagates the entry. An A/D store the MMU
 *   reports therefore marks the table page dirty and means the access took a
 *   shadow fault: the one already charged for it (missing shadow, log-dirty),
 *   or else one of its own. No other exit is charged for it.
 * - Page tables are write-protected at all times (DESIGN section 6): every
 *   pt_write is emulated (ptEmulate: exitRoundTripNs + ptEmulateNs), marks
 *   the table dirty when log-dirty is on, and is propagated into the shadows
 *   of that page (sh_validate_guest_entry): an upper-level shadow entry
 *   drops the shadow it pointed at (freeing it with its last reference) and
 *   points at the new child's shadow if one exists; an L1 entry is
 *   propagated anew. A store through a mapping into a live page-table page
 *   (`write` with ACCESS_PT_PAGE) is emulated the same way, after whatever
 *   fault its walk took (Xen faults, propagates read-only, retries, faults
 *   again and emulates); the emulation's own guest walk sets A/D, so no
 *   further fault is charged for them.
 * - CR3 loads (sh_update_cr3, sh_set_toplevel_shadow): the top-level shadow
 *   of the new root is found or built (a shadowRebuild charged to the vCPU;
 *   the CR3 load's own exit is not charged, see gaps) and pinned at the head
 *   of the pinned list. A PV guest entering shadow mode at ENABLE gets its
 *   top-level shadows on its first walk after it (Xen builds them at ENABLE).
 * - The pool (shadow_prealloc): when a build finds no room, Xen's
 *   _shadow_prealloc unpins top-level shadows from the least recently loaded
 *   end (freeing each with the shadows only it reached), then unhooks the
 *   top-level shadows in use. Each shadow freed costs shadowBlowPerPageNs
 *   per page, added to the shadowRebuild that needed the room. An evicted
 *   table is rebuilt on its next use: an Apache-like guest with more address
 *   spaces than the pool holds thrashes it ("if the cache isn't big enough,
 *   performance is terrible", seed 002).
 * - ENABLE and CLEAN blow all shadows (sh_enable_log_dirty,
 *   sh_clean_dirty_bitmap -> shadow_blow_tables): every shadow is freed but
 *   the top-level shadows loaded in a CR3, which are emptied and unpinned;
 *   shadowBlowPerPageNs per page freed is added to the domain pause of that
 *   operation (it runs inside paging_log_dirty_op's domain_pause). OFF:
 *   a PV guest leaves shadow mode and every shadow is freed (same cost per
 *   page); an HVM guest keeps its shadows, whose read-only entries fault once
 *   more on their next write (Xen's sh_new_mode keeps them).
 * - A guest page fault (the guest's own entry not present, read-only...)
 *   exits too: sh_page_fault finds the fault in the guest's tables and
 *   injects it (shadowFault, arg 0, stat faultsReflected).
 * - Device writes (phys_write by NO_VCPU) mark the page dirty and cost
 *   nothing. A phys_write issued by a vCPU is a store through a mapping the
 *   model does not walk: its first write to a page per round takes a shadow
 *   fault, as a store through a read-only shadow entry would.
 *
 * Gaps: Xen's out-of-sync L1 optimisation (OOS) is not modelled (every PT
 * write is emulated); the CR3-load exit of an HVM guest (mov to CR3 is
 * intercepted under shadow paging) has no run-event kind and is not charged;
 * Xen emulates only writes to pages that currently have shadows, here every
 * pt_write is (DESIGN section 6); 1 GiB guest mappings, which Xen never
 * offers a shadowed guest, have no FL1 shadow here: a write through one faults
 * once per page per round.
 */
/** Out-of-sync L1s allowed per vCPU: SHADOW_OOS_PAGES in Xen's asm-x86/mm.h. */
export const SHADOW_OOS_PAGES = 3;

export class ShadowTracker extends Tracker {
  readonly name = 'shadow' as const;
  private readonly pool: ShadowPool;
  private readonly hvm: boolean;
  private readonly pae: boolean;
  private readonly topLevel: number;
  /**
   * Shadow paging is in force: always for HVM, only during log-dirty for PV
   * (direct mode otherwise). A field, not a getter over logDirty: every
   * access reads it, and it changes only at ENABLE and OFF.
   */
  private shadowing: boolean;
  /** The top-level shadow each vCPU has in CR3 (holding a reference), -1 for none. */
  private readonly cr3Top: Int32Array;
  /** Sequence number at which each page was marked dirty this round (valid while its bit is set). */
  private readonly dirtySeq: Int32Array;
  private seq = 1;
  /** mfn -> pfn and pfn -> mfn for a PV guest (its PTEs hold mfns); undefined for HVM. */
  private readonly m2p: Int32Array | undefined;
  private readonly p2m: Int32Array | undefined;
  private readonly memPages: number;
  /** Bit per level (1 << level) of each page once shadowed there, to tell rebuilds from first builds. */
  private readonly everShadowed: Uint8Array;
  private readonly faultCostNs: number;
  private readonly emulateCostNs: number;
  private readonly rebuildCostNs: number;
  private readonly freeCostPerShadowNs: number;

  // Columns of the batch being processed (pt_write operands, vpns).
  private pageCol: Int32Array = new Int32Array(0);
  private argCol: Int32Array = new Int32Array(0);
  private pteCol: Int32Array = new Int32Array(0);
  /** The event being processed made hardware A/D stores (set by onAdStore, consumed by its access). */
  private adPending = false;
  /** Eviction cost to add to the next shadowRebuild charge. */
  private pendingEvictNs = 0;
  /** Blow cost to add to the next domain pause (the log-dirty op that blew the tables). */
  private pendingPauseNs = 0;

  // Counters for stats().
  private builds = 0;
  private rebuilds = 0;
  private evictedShadows = 0;
  private evictions = 0;
  private blows = 0;
  private blownShadows = 0;
  private blowNs = 0;
  private faultsMissingShadow = 0;
  private faultsLogDirty = 0;
  private faultsAccessedDirty = 0;
  private faultsPhysWrite = 0;
  private faultsReadOnlyAfterOff = 0;
  private faultsReflected = 0;
  private ptWritesEmulated = 0;
  private dataWritesEmulated = 0;
  // Out-of-sync L1s (Xen's SHOPT_OUT_OF_SYNC, mm/shadow/common.c sh_unsync
  // and sh_resync): SHADOW_OOS_PAGES slots per vCPU, a page in slot pfn % 3.
  private readonly oos: boolean;
  private readonly oosPfn: Int32Array;
  private readonly oosSlotOf: Int32Array;
  private readonly resyncCostNs: number;
  private readonly cr3ExitCostNs: number;
  /** Cache of 4 KiB shadow walks (see leaf4k): WALK_CACHE_ENTRIES of [key, top, generation, leaf]. */
  private readonly walkCache = new Int32Array(WALK_CACHE_ENTRIES * 4).fill(-1);
  /** The pool generation at which walkCache was last emptied (see process). */
  private walkCacheSince = 0;
  private oosUnsyncs = 0;
  private oosResyncs = 0;
  private oosEvictions = 0;
  private ptWritesNative = 0;

  constructor(env: TrackerEnv) {
    super(env);
    const g = env.guest;
    const c = env.costs;
    this.hvm = g.type === 'hvm';
    this.pae = g.paging === 'pae';
    this.topLevel = this.pae ? 3 : 4;
    this.shadowing = this.hvm;
    this.memPages = g.memPages;
    const minShadows = g.vcpus + this.topLevel;
    if (Math.floor(c.shadowPoolPages / c.shadowPagesPerTable) < minShadows) {
      throw new CostModelError(
        `shadow pool of ${c.shadowPoolPages} pages holds fewer than ${minShadows} shadows of ${c.shadowPagesPerTable} pages: ` +
          `one top-level shadow per vCPU plus one walk's path must fit (Xen's shadow_min_acceptable_pages); ` +
          `set shadowPoolPages to at least ${minShadows * c.shadowPagesPerTable} in the cost model`,
      );
    }
    this.m2p = env.mmu.p2m?.mfnToPfn;
    this.p2m = env.mmu.p2m?.pfnToMfn;
    // Keys: pfns for table shadows, frames (mfns for PV) for FL1 shadows.
    this.pool = new ShadowPool(Math.max(g.memPages, this.m2p?.length ?? 0), c.shadowPoolPages, c.shadowPagesPerTable);
    this.cr3Top = new Int32Array(g.vcpus).fill(-1);
    this.dirtySeq = new Int32Array(g.memPages);
    this.everShadowed = new Uint8Array(g.memPages);
    this.faultCostNs = c.exitRoundTripNs + c.shadowFaultNs;
    this.emulateCostNs = c.exitRoundTripNs + c.ptEmulateNs;
    this.rebuildCostNs = c.shadowRebuildPerTableNs;
    this.freeCostPerShadowNs = c.shadowBlowPerPageNs * c.shadowPagesPerTable;
    // Xen lets L1s go out of sync for HVM guests only (sh_unsync refuses PV).
    this.oos = Boolean(env.shadowOos) && this.hvm;
    this.oosPfn = new Int32Array(g.vcpus * SHADOW_OOS_PAGES).fill(-1);
    this.oosSlotOf = new Int32Array(this.oos ? g.memPages : 0).fill(-1);
    this.resyncCostNs = c.oosResyncPerPageNs;
    this.cr3ExitCostNs = c.exitRoundTripNs + c.shadowCr3UpdateNs;
  }

  override process(batch: GuestBatch, mmu: MmuOutput, tNs: Float64Array, from: number, stopAtWallNs: number, to: number = batch.count): number {
    this.pageCol = batch.page;
    this.argCol = batch.arg;
    this.pteCol = batch.pte;
    // The walk cache keeps generations as Int32: emptied long before one
    // could come round again (no call bumps the generation 2^31 times).
    const generation = this.pool.generation;
    if (generation - this.walkCacheSince >= 0x4000_0000) {
      this.walkCache.fill(-1);
      this.walkCacheSince = generation;
    }
    return super.process(batch, mmu, tNs, from, stopAtWallNs, to);
  }

  // ---- accesses ----

  protected override onWrite(pfn: number, access: number, vcpu: number, wallNs: number, i: number, mmu: MmuOutput): void {
    const ad = this.adPending;
    this.adPending = false;
    if (!this.shadowing) return;
    const w = i << 2;
    const walkPfns = mmu.walkPfns;
    const root = walkPfns[w]!;
    if (root < 0) {
      this.physWrite(pfn, vcpu, wallNs);
      return;
    }
    let leaf: number;
    if ((access & (ACCESS_2M | ACCESS_1G | ACCESS_PT_PAGE)) === 0) {
      // Most writes: 4 KiB, to a data page, through a shadow entry already
      // writable. Settled here without a call.
      const vpn = this.pageCol[i]!;
      leaf = this.leaf4k(root, vpn, vcpu);
      if (leaf >= 0 && (this.pool.rwBits[leaf * ROW_WORDS + ((vpn & 511) >>> 5)]! & (1 << (vpn & 31))) !== 0) {
        if (ad) this.adFault(vcpu, wallNs, pfn);
        return;
      }
    } else leaf = (access & (ACCESS_2M | ACCESS_1G)) === 0 ? this.leaf4k(root, this.pageCol[i]!, vcpu) : this.leafGeneral(i, vcpu, access, w, walkPfns, pfn);
    this.writeThrough(leaf, pfn, access, vcpu, wallNs, i, w, walkPfns, ad);
  }

  /** A phys_write (no walk): a device's marks the page; a vCPU's faults first, once per page per round. */
  private physWrite(pfn: number, vcpu: number, wallNs: number): void {
    if (!this.logDirty || this.dirty.isDirty(pfn)) return;
    if (vcpu !== NO_VCPU) {
      this.faultsPhysWrite++;
      this.charge(EVENT.shadowFault, vcpu, wallNs, pfn, 0, this.faultCostNs);
    }
    this.mark(pfn);
  }

  /** A write through leaf shadow `leaf` as leaf4k/leafGeneral found it (-1: missing, fault first). */
  private writeThrough(leaf: number, pfn: number, access: number, vcpu: number, wallNs: number, i: number, w: number, walkPfns: Int32Array, ad: boolean): void {
    let faulted = false;
    if (leaf === -1) {
      leaf = this.fault(i, vcpu, wallNs, access, w, walkPfns, pfn);
      faulted = true;
    }
    if ((access & ACCESS_PT_PAGE) !== 0) {
      // Shadow L1 entries of page-table pages are always read-only: emulate.
      this.dataWritesEmulated++;
      this.charge(EVENT.ptEmulate, vcpu, wallNs, pfn, 0, this.emulateCostNs);
      if (this.logDirty) this.mark(pfn);
      return;
    }
    if (leaf < 0) {
      // A 1 GiB mapping (no leaf shadow): writable once dirty this round.
      if (this.logDirty && !this.dirty.isDirty(pfn)) {
        if (!faulted) this.logDirtyFault(vcpu, wallNs, pfn);
        this.mark(pfn);
      } else if (ad && !faulted) this.adFault(vcpu, wallNs, pfn);
      return;
    }
    const entry = (access & ACCESS_2M) !== 0 ? pfn & 511 : this.pageCol[i]! & 511;
    const word = leaf * ROW_WORDS + (entry >>> 5);
    const bit = 1 << (entry & 31);
    const rw = this.pool.rwBits;
    const bits = rw[word]!;
    if ((bits & bit) !== 0 || this.writableAsBuilt(leaf, pfn)) {
      rw[word] = bits | bit;
      if (ad && !faulted) this.adFault(vcpu, wallNs, pfn);
      return;
    }
    // A read-only shadow entry: the write faults, and the handler maps the
    // page writable, marking it dirty if log-dirty is on (with log-dirty off
    // this is an HVM entry left read-only by the last log-dirty round).
    rw[word] = bits | bit;
    if (this.logDirty) {
      if (!faulted) this.logDirtyFault(vcpu, wallNs, pfn);
      this.mark(pfn);
    } else if (!faulted) {
      this.faultsReadOnlyAfterOff++;
      this.charge(EVENT.shadowFault, vcpu, wallNs, pfn, 0, this.faultCostNs);
    }
  }

  /**
   * Whether an L1/FL1 shadow entry whose writable bit is clear was built
   * writable: when its shadow was built with log-dirty off, or after its
   * page was marked dirty this round.
   */
  private writableAsBuilt(leaf: number, pfn: number): boolean {
    const built = this.pool.builtSeq[leaf]!;
    return built === BUILT_WRITABLE || (this.dirty.isDirty(pfn) && this.dirtySeq[pfn]! < built);
  }

  protected override onRead(pfn: number, access: number, vcpu: number, wallNs: number, i: number, mmu: MmuOutput): void {
    const ad = this.adPending;
    this.adPending = false;
    if (!this.shadowing) return;
    const w = i << 2;
    const walkPfns = mmu.walkPfns;
    const leaf = (access & (ACCESS_2M | ACCESS_1G)) === 0 ? this.leaf4k(walkPfns[w]!, this.pageCol[i]!, vcpu) : this.leafGeneral(i, vcpu, access, w, walkPfns, pfn);
    if (leaf === -1) this.fault(i, vcpu, wallNs, access, w, walkPfns, pfn);
    else if (ad) this.adFault(vcpu, wallNs, pfn);
  }

  protected override onPtWrite(pfn: number, vcpu: number, wallNs: number, i: number): void {
    this.adPending = false;
    if (!this.shadowing) return;
    if (this.oos && this.outOfSyncWrite(pfn, vcpu, wallNs, i)) return;
    const updated = this.propagate(pfn, this.argCol[i]!, this.pteCol[i]!);
    this.ptWritesEmulated++;
    this.charge(EVENT.ptEmulate, vcpu, wallNs, pfn, updated, this.emulateCostNs);
    if (this.logDirty) this.mark(pfn);
  }

  protected override onAdStore(ptPfn: number): void {
    if (!this.shadowing) return;
    this.adPending = true;
    if (this.logDirty) this.mark(ptPfn);
  }

  /**
   * A guest page fault under shadow paging is a VM exit: the shadow entry is
   * missing as the guest's is, sh_page_fault walks the guest's tables, finds
   * the fault is the guest's, and injects it (its `propagate` path). One
   * shadowFault, nothing built (arg 0).
   */
  protected override onGuestFault(vcpu: number, wallNs: number): void {
    this.adPending = false;
    if (!this.shadowing || vcpu >= this.cr3Top.length) return;
    this.faultsReflected++;
    this.charge(EVENT.shadowFault, vcpu, wallNs, -1, 0, this.faultCostNs);
  }

  protected override onCr3Load(rootPfn: number, vcpu: number, wallNs: number): void {
    this.adPending = false;
    if (!this.shadowing) return;
    // An HVM guest's CR3 write exits under shadow paging (HAP lets the
    // hardware load it): the exit and sh_update_cr3. A PV guest switches
    // with a hypercall in direct mode and under shadow alike.
    if (this.hvm && vcpu < this.cr3Top.length) this.charge(EVENT.cr3Exit, vcpu, wallNs, rootPfn, 0, this.cr3ExitCostNs);
    // sh_update_cr3 resyncs this vCPU's out-of-sync L1s first.
    if (this.oos) this.resyncVcpu(vcpu, wallNs);
    let s = this.pool.lookup(rootPfn, this.topLevel);
    if (s < 0) {
      this.makeRoom(1);
      s = this.build(rootPfn, this.topLevel, vcpu, wallNs);
    }
    this.installTop(vcpu, s);
  }

  // ---- the shadow walk ----

  /**
   * The L1 shadow the 4 KiB translation of `vpn` (whose walk started at
   * guest table `root`) uses, following present shadow entries from CR3;
   * -1 if one is missing.
   */
  private leaf4k(root: number, vpn: number, vcpu: number): number {
    const s = this.cr3Top[vcpu]!;
    const pool = this.pool;
    if (s < 0 || pool.pfnOf[s] !== root) return -1;
    // A walk that found every entry present answers for the same top-level
    // shadow and 2 MiB of virtual space until the pool's generation moves:
    // the three dependent loads of the walk miss the cache (the shadows'
    // entries are 2 KiB a shadow), while Apache's address spaces reuse a few
    // hundred such regions (one entry per vCPU hit 46% of walks, 512 shared
    // entries 91%).
    const key = vpn >> 9;
    const o = (Math.imul(key ^ Math.imul(s, 0x27d4_eb2d), 0x9e37_79b1) >>> WALK_CACHE_SHIFT) << 2;
    const cache = this.walkCache;
    const generation = pool.generation | 0;
    if (cache[o] === key && cache[o + 1] === s && cache[o + 2] === generation) return cache[o + 3]!;
    const leaf = this.shadowWalk4k(s, vpn);
    // A missing entry is not cached: filling it does not bump the generation.
    if (leaf >= 0) {
      cache[o] = key;
      cache[o + 1] = s;
      cache[o + 2] = generation;
      cache[o + 3] = leaf;
    }
    return leaf;
  }

  private shadowWalk4k(s: number, vpn: number): number {
    const ent = this.pool.ent;
    let c: number;
    if (this.pae) {
      c = ent[(s << 9) | ((vpn >>> 18) & 3)]!;
      if (c === 0) return -1;
    } else {
      c = ent[(s << 9) | ((vpn >> 27) & 511)]!;
      if (c === 0) return -1;
      c = ent[((c - 1) << 9) | ((vpn >> 18) & 511)]!;
      if (c === 0) return -1;
    }
    c = ent[((c - 1) << 9) | ((vpn >> 9) & 511)]!;
    return c - 1;
  }

  /**
   * The same for a superpage: the FL1 shadow of a 2 MiB mapping; -2 for a
   * 1 GiB mapping whose path is shadowed (it has no leaf shadow); -1 if a
   * shadow on the path is missing.
   */
  private leafGeneral(i: number, vcpu: number, access: number, w: number, walkPfns: Int32Array, pfn: number): number {
    let s = this.cr3Top[vcpu]!;
    if (s < 0 || this.pool.pfnOf[s] !== walkPfns[w]) return -1;
    const vpn = this.pageCol[i]!;
    const ent = this.pool.ent;
    const depth = this.walkDepth(w, walkPfns);
    let level = this.topLevel;
    for (let d = 1; d < depth; d++, level--) {
      const c = ent[(s << 9) | this.indexAt(vpn, level)]!;
      if (c === 0) return -1;
      s = c - 1;
    }
    if ((access & ACCESS_1G) !== 0) return -2;
    // level is now 2: its entry points at the FL1 shadow.
    const c = ent[(s << 9) | this.indexAt(vpn, 2)]!;
    if (c === 0 || this.pool.pfnOf[c - 1] !== this.fl1Key(pfn)) return -1;
    return c - 1;
  }

  /**
   * sh_page_fault for a walk that found a missing shadow entry: one fault,
   * then every missing shadow on the path built and every entry linked.
   * Returns the leaf shadow as leaf4k/leafGeneral would.
   */
  private fault(i: number, vcpu: number, wallNs: number, access: number, w: number, walkPfns: Int32Array, pfn: number): number {
    const pool = this.pool;
    const depth = this.walkDepth(w, walkPfns);
    const fl1Base = (access & ACCESS_2M) !== 0 ? this.fl1Key(pfn) : -1;
    const vpn = this.pageCol[i]!;
    // Room first (shadow_prealloc before any shadow_alloc): making room can
    // free shadows of this very path, so count again until they all fit.
    let missing = this.missingOnPath(vcpu, w, walkPfns, depth, fl1Base, vpn);
    while (missing > pool.freeShadows) {
      this.makeRoom(missing);
      missing = this.missingOnPath(vcpu, w, walkPfns, depth, fl1Base, vpn);
    }
    this.faultsMissingShadow++;
    this.charge(EVENT.shadowFault, vcpu, wallNs, pfn, missing, this.faultCostNs);
    const root = walkPfns[w]!;
    let s = this.cr3Top[vcpu]!;
    if (s < 0 || pool.pfnOf[s] !== root) {
      // A PV guest just put into shadow mode: its CR3 has no shadow yet.
      s = pool.lookup(root, this.topLevel);
      if (s < 0) s = this.build(root, this.topLevel, vcpu, wallNs);
      this.installTop(vcpu, s);
    }
    let level = this.topLevel;
    for (let d = 1; d < depth; d++, level--) {
      s = this.linkChild(s, this.indexAt(vpn, level), walkPfns[w + d]!, level - 1, vcpu, wallNs);
    }
    if ((access & ACCESS_1G) !== 0) return -2;
    if (fl1Base >= 0) s = this.linkChild(s, this.indexAt(vpn, 2), fl1Base, FL1_LEVEL, vcpu, wallNs);
    return s;
  }

  /** Entry k of shadow `parent` made to point at the shadow of (pfn, level), built if missing. Returns that shadow. */
  private linkChild(parent: number, k: number, pfn: number, level: number, vcpu: number, wallNs: number): number {
    const pool = this.pool;
    const c = pool.ent[(parent << 9) | k]!;
    if (c !== 0 && pool.pfnOf[c - 1] === pfn && pool.levelOf[c - 1] === level) return c - 1;
    let s = pool.lookup(pfn, level);
    if (s < 0) s = this.build(pfn, level, vcpu, wallNs);
    pool.link(parent, k, s);
    return s;
  }

  /**
   * Shadows the fault would have to build for this walk (the top-level one
   * if CR3 holds none). A shadow entry that already names the walk's next
   * table proves that table's shadow exists: only the tables below the
   * first unlinked entry need a hash lookup.
   */
  private missingOnPath(vcpu: number, w: number, walkPfns: Int32Array, depth: number, fl1Base: number, vpn: number): number {
    const pool = this.pool;
    const ent = pool.ent;
    const pfnOf = pool.pfnOf;
    const levelOf = pool.levelOf;
    let n = 0;
    let s = this.cr3Top[vcpu]!;
    if (!(s >= 0 && pfnOf[s] === walkPfns[w])) {
      s = pool.lookup(walkPfns[w]!, this.topLevel);
      if (s < 0) n++;
    }
    let level = this.topLevel;
    for (let d = 1; d < depth; d++, level--) {
      const pfn = walkPfns[w + d]!;
      let child = -1;
      if (s >= 0) {
        const c = ent[(s << 9) | this.indexAt(vpn, level)]!;
        if (c !== 0 && pfnOf[c - 1] === pfn && levelOf[c - 1] === level - 1) child = c - 1;
      }
      if (child < 0) {
        child = pool.lookup(pfn, level - 1);
        if (child < 0) n++;
      }
      s = child;
    }
    if (fl1Base >= 0) {
      const c = s >= 0 ? ent[(s << 9) | this.indexAt(vpn, 2)]! : 0;
      if (!(c !== 0 && pfnOf[c - 1] === fl1Base && levelOf[c - 1] === FL1_LEVEL) && pool.lookup(fl1Base, FL1_LEVEL) < 0) n++;
    }
    return n;
  }

  /** Makes `vcpu`'s CR3 hold top-level shadow s (a reference), pinned at the head of the list (sh_set_toplevel_shadow). */
  private installTop(vcpu: number, s: number): void {
    const pool = this.pool;
    pool.incRef(s);
    const old = this.cr3Top[vcpu]!;
    this.cr3Top[vcpu] = s;
    pool.pin(s);
    if (old >= 0) pool.decRef(old);
  }

  /** Allocates and charges one shadow (the caller made room). */
  private build(pfn: number, level: number, vcpu: number, wallNs: number): number {
    const s = this.pool.alloc(pfn, level, level <= 1 ? (this.logDirty ? this.nextSeq() : BUILT_WRITABLE) : 0);
    this.builds++;
    if (level >= 1) {
      const bit = 1 << level;
      if ((this.everShadowed[pfn]! & bit) !== 0) this.rebuilds++;
      else this.everShadowed[pfn] = this.everShadowed[pfn]! | bit;
    }
    const cost = this.rebuildCostNs + this.pendingEvictNs;
    this.pendingEvictNs = 0;
    this.charge(EVENT.shadowRebuild, vcpu, wallNs, pfn, this.pool.pagesPerShadow, cost);
    return s;
  }

  /** _shadow_prealloc: frees shadows until `shadows` fit; their cost goes to the build that needed them. */
  private makeRoom(shadows: number): void {
    const freed = this.pool.makeRoom(shadows, this.cr3Top);
    if (freed === 0 && this.pool.freeShadows < shadows) {
      throw new Error(`shadow pool: cannot free room for ${shadows} shadows (pool of ${this.pool.maxShadows})`);
    }
    if (freed > 0) {
      this.evictions++;
      this.evictedShadows += freed;
      this.pendingEvictNs += freed * this.freeCostPerShadowNs;
    }
  }

  /**
   * sh_validate_guest_entry for a guest write of `pte` into entry `index` of
   * page `pfn`: each shadow of the page takes the new entry. Returns the
   * number of shadows updated.
   */
  private propagate(pfn: number, index: number, pte: number): number {
    const pool = this.pool;
    let updated = 0;
    for (let s = pool.firstOf(pfn); s >= 0; ) {
      // Updating one shadow can free others (a page used at two levels), so
      // take the next before, and stop at any slot no longer of this page.
      const next = pool.nextOf(s);
      const level = pool.levelOf[s]!;
      if (level === 1) {
        // _sh_propagate: writable now iff log-dirty is off or the page the
        // entry now maps is dirty already. (The as-built rule cannot
        // contradict this: a page dirty before the build is dirty now, as
        // every L1 shadow is blown when the bitmap is cleaned.)
        const word = s * ROW_WORDS + (index >>> 5);
        const bit = 1 << (index & 31);
        const target = (pte & PTE_P) !== 0 ? this.framePfn(pte >>> PTE_FLAG_BITS) : -1;
        if (!this.logDirty || (target >= 0 && this.dirty.isDirty(target))) pool.rwBits[word] = pool.rwBits[word]! | bit;
        else pool.rwBits[word] = pool.rwBits[word]! & ~bit;
        updated++;
      } else if (level >= 2 && !(this.pae && level === 3 && index >= 4)) {
        // The new target is referenced before the old one is released, so a
        // rewrite of the same entry frees nothing (shadow_set_l2e and kin).
        const child = this.childShadow(pte, level);
        if (child >= 0) pool.link(s, index, child);
        else pool.unlink(s, index);
        updated++;
      }
      s = next >= 0 && pool.pfnOf[next] === pfn ? next : -1;
    }
    return updated;
  }

  /** The existing shadow that a guest entry at `level` points at, or -1 (none yet, or not a table). */
  private childShadow(pte: number, level: number): number {
    if ((pte & PTE_P) === 0) return -1;
    const frame = pte >>> PTE_FLAG_BITS;
    if ((pte & PTE_PS) !== 0) return level === 2 ? this.pool.lookup(frame, FL1_LEVEL) : -1;
    const child = this.framePfn(frame);
    return child < 0 ? -1 : this.pool.lookup(child, level - 1);
  }

  /**
   * The key of the FL1 shadow splintering the 2 MiB mapping of `pfn`: the
   * mapping's first frame as the guest entry names it (a pfn for HVM, an mfn
   * for PV), as Xen keys FL1 shadows by the superpage's first gfn.
   */
  private fl1Key(pfn: number): number {
    const frame = this.p2m === undefined ? pfn : this.p2m[pfn]!;
    return frame - (frame & 511);
  }

  private framePfn(frame: number): number {
    if (this.m2p === undefined) return frame < this.memPages ? frame : -1;
    return frame < this.m2p.length ? this.m2p[frame]! : -1;
  }

  private walkDepth(w: number, walkPfns: Int32Array): number {
    let d = 1;
    while (d < this.topLevel && walkPfns[w + d]! >= 0) d++;
    return d;
  }

  private indexAt(vpn: number, level: number): number {
    if (this.pae && level === 3) return (vpn >>> 18) & 3;
    return (vpn >> (9 * (level - 1))) & 511;
  }

  // ---- faults and dirty marks ----

  private logDirtyFault(vcpu: number, wallNs: number, pfn: number): void {
    this.faultsLogDirty++;
    this.charge(EVENT.shadowFault, vcpu, wallNs, pfn, 0, this.faultCostNs);
  }

  /** A fault that only propagated a guest entry whose A (or leaf D) bit was clear. */
  private adFault(vcpu: number, wallNs: number, pfn: number): void {
    this.faultsAccessedDirty++;
    this.charge(EVENT.shadowFault, vcpu, wallNs, pfn, 0, this.faultCostNs);
  }

  private mark(pfn: number): void {
    if (this.dirty.mark(pfn)) this.dirtySeq[pfn] = this.nextSeq();
  }

  /**
   * The next build/dirtying sequence number. On reaching the Int32 limit the
   * numbers restart: every L1 shadow built in log-dirty takes 1 and every
   * page 0, so a page already dirty counts as marked before every build
   * (writable: never a lost write, at worst a fault not charged) and any
   * later marking comes after every build.
   */
  private nextSeq(): number {
    if (this.seq >= BUILT_WRITABLE - 2) this.restartSeq();
    return ++this.seq;
  }

  /** Kept out of nextSeq so that it stays small enough to inline into every mark. */
  private restartSeq(): void {
    this.dirtySeq.fill(0);
    const built = this.pool.builtSeq;
    this.pool.forEachLeafShadow((s) => {
      if (built[s] !== BUILT_WRITABLE) built[s] = 1;
    });
    this.seq = 1;
  }

  // ---- out-of-sync L1s ----

  /**
   * A guest write to a page-table page under OOS. An L1 (and only an L1)
   * that is out of sync is written natively: no exit, its shadow catches up
   * at the next resync (the guest must flush its TLB before relying on the
   * change anyway, so the model propagates at once). The first write to an
   * L1 that is not out of sync takes the write fault that unsyncs it
   * instead of an emulation, evicting (resyncing) whatever held its slot.
   * Returns false when the page is no L1 and must be emulated as usual.
   */
  private outOfSyncWrite(pfn: number, vcpu: number, wallNs: number, i: number): boolean {
    if (this.oosSlotOf[pfn]! >= 0) {
      this.propagate(pfn, this.argCol[i]!, this.pteCol[i]!);
      this.ptWritesNative++;
      if (this.logDirty) this.mark(pfn);
      return true;
    }
    if (this.env.mmu.tableLevel(pfn) !== 1 || vcpu >= this.cr3Top.length) return false;
    const k = vcpu * SHADOW_OOS_PAGES + (pfn % SHADOW_OOS_PAGES);
    const held = this.oosPfn[k]!;
    if (held >= 0) {
      this.oosEvictions++;
      this.resync(k, vcpu, wallNs);
    }
    this.oosPfn[k] = pfn;
    this.oosSlotOf[pfn] = k;
    this.oosUnsyncs++;
    this.propagate(pfn, this.argCol[i]!, this.pteCol[i]!);
    this.charge(EVENT.shadowFault, vcpu, wallNs, pfn, 0, this.faultCostNs);
    // The page goes writable to the guest: it is dirty from now on, as Xen
    // marks it when it drops the write protection.
    if (this.logDirty) this.mark(pfn);
    return true;
  }

  private resyncVcpu(vcpu: number, wallNs: number): void {
    if (vcpu >= this.cr3Top.length) return;
    for (let k = vcpu * SHADOW_OOS_PAGES; k < (vcpu + 1) * SHADOW_OOS_PAGES; k++) if (this.oosPfn[k]! >= 0) this.resync(k, vcpu, wallNs);
  }

  /** sh_resync: revalidate the L1 against its shadow and write-protect it again. */
  private resync(k: number, vcpu: number, wallNs: number): void {
    const pfn = this.oosPfn[k]!;
    this.oosPfn[k] = -1;
    this.oosSlotOf[pfn] = -1;
    this.oosResyncs++;
    this.charge(EVENT.oosResync, vcpu, wallNs, pfn, 0, this.resyncCostNs);
  }

  /** Blowing the tables drops every out-of-sync L1 with its shadow. */
  private dropOutOfSync(): void {
    if (!this.oos) return;
    for (let k = 0; k < this.oosPfn.length; k++) {
      const pfn = this.oosPfn[k]!;
      if (pfn >= 0) this.oosSlotOf[pfn] = -1;
      this.oosPfn[k] = -1;
    }
  }

  // ---- log-dirty operations ----

  protected override onEnable(): void {
    this.shadowing = true;
    // An HVM guest has shadows already: blow them so that every mapping is
    // write-protected again. A PV guest enters shadow mode with none.
    if (this.hvm) this.blow();
  }

  protected override onClean(): void {
    this.blow();
  }

  protected override onOff(): void {
    this.shadowing = this.hvm;
    if (this.hvm) return;
    const freed = this.pool.teardown(this.cr3Top);
    this.chargeFreedInPause(freed);
  }

  private blow(): void {
    this.dropOutOfSync();
    const freed = this.pool.blowAll(this.cr3Top);
    this.chargeFreedInPause(freed);
  }

  private chargeFreedInPause(freed: number): void {
    const ns = freed * this.freeCostPerShadowNs;
    this.blows++;
    this.blownShadows += freed;
    this.blowNs += ns;
    this.pendingPauseNs += ns;
  }

  /** The operation that blew the tables pauses the domain for that too (inside paging_log_dirty_op's pause). */
  protected override pauseDomain(kind: number, wallNs: number, arg: number, costNs: number): void {
    const extra = this.pendingPauseNs;
    this.pendingPauseNs = 0;
    super.pauseDomain(kind, wallNs, arg, costNs + extra);
  }

  override memoryBytes(): number {
    return super.memoryBytes() + this.pool.pagesInUse * 4096;
  }

  override stats(): Record<string, number> {
    const pool = this.pool;
    return {
      shadowPoolPages: pool.poolPages,
      shadowPagesInUse: pool.pagesInUse,
      shadowPagesPeak: pool.peakPages,
      shadowsInUse: pool.shadowsInUse,
      shadowBuilds: this.builds,
      shadowRebuilds: this.rebuilds,
      shadowEvictions: this.evictions,
      shadowsEvicted: this.evictedShadows,
      shadowBlows: this.blows,
      shadowsBlown: this.blownShadows,
      shadowBlowNs: this.blowNs,
      faultsMissingShadow: this.faultsMissingShadow,
      faultsLogDirty: this.faultsLogDirty,
      faultsAccessedDirty: this.faultsAccessedDirty,
      faultsPhysWrite: this.faultsPhysWrite,
      faultsReadOnlyAfterOff: this.faultsReadOnlyAfterOff,
      faultsReflected: this.faultsReflected,
      ptWritesEmulated: this.ptWritesEmulated,
      dataWritesEmulated: this.dataWritesEmulated,
      ...(this.oos ? { oosUnsyncs: this.oosUnsyncs, oosResyncs: this.oosResyncs, oosEvictions: this.oosEvictions, ptWritesNative: this.ptWritesNative } : {}),
    };
  }
}
