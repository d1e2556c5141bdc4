import type { GuestBatch } from '../events/guest-batch.js';
import { EPT_RUN_EXIT, type EptRun } from './ept-run.js';
import type { Mmu } from './mmu.js';
import { GuestEventKind, NO_VCPU } from '../events/guest-event-kind.js';
import { RunEventKind } from '../events/run-event-kind.js';
import { shadowPoolPagesOf } from '../model/shadow-pool-size.js';
import { ACCESS_1G, ACCESS_2M, ACCESS_FAULT, ACCESS_LEAF_TABLE, ACCESS_PT_PAGE, ACCESS_WRITE, type MmuOutput } from './mmu-output.js';
import { ShadowDirtyOrder } from './shadow-dirty-order.js';
import { ShadowBlow } from './shadow-blow.js';
import { ShadowOos } from './shadow-oos.js';
import { ROW_WORDS, type ShadowPool } from './shadow-pool.js';
import { propagateGuestEntry } from './shadow-propagate.js';
import { ShadowWalk, walkCacheRow } from './shadow-walk.js';
import { type ShadowLoopHost, runUnderShadow } from './shadow-run.js';
import { TOUCH_AHEAD_EVENTS, touchLeafTables, touchPages } from './touch-ahead.js';
import { Tracker, type TrackerEnv, touchScratch } from './tracker.js';
// Module-local, as in tracker.ts.
const EVENT = RunEventKind;
const NO_PAGES = new Int32Array(0);
const FAULT = ACCESS_FAULT;
const WRITE = ACCESS_WRITE;
const KIND_CR3_LOAD = GuestEventKind.cr3Load;
const KIND_PT_WRITE = GuestEventKind.ptWrite;

/**
 * Xen's shadow paging as the dirty-page tracker (DESIGN section 6, seed 002).
 * The hardware walks shadow tables that Xen builds on demand from the
 * guest's; a PV guest runs in direct mode and is put into shadow mode only
 * while log-dirty is on, an HVM guest without HAP is shadowed always.
 *
 * Follows xen/arch/x86/mm/shadow/multi.c and common.c:
 *
 * - Shadows (sh_page_fault, shadow_get_and_create_l1e): one shadow per
 *   guest page-table page per level, an FL1 shadow per guest 2 MiB mapping.
 *   Each access walks them from its vCPU's CR3; a walk that finds one
 *   missing takes a shadow fault that builds the path, and room is made in
 *   the pool by evicting the least recently loaded address spaces
 *   (shadow_prealloc). shadow-walk.ts models the walk, the fault, the
 *   top-level shadow a CR3 load installs and the eviction, with their
 *   costs; shadow-pool.ts holds the shadows. This file gives the L1 entries
 *   their log-dirty meaning and handles the guest's other events.
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
 *   keeps the sequence number at which it became dirty this round
 *   (shadow-dirty-order.ts).
 * - Guest A and D bits (_sh_propagate, guest_walk_tables): a shadow entry is
 *   not present while the guest's A bit is clear and read-only while a leaf's
 *   D bit is clear, so the hardware never sets guest A/D under shadow paging:
 *   Xen does, in the fault that propagates the entry. An A/D store the MMU
 *   reports therefore marks the table page dirty and means the access took a
 *   shadow fault: the one already charged for it (missing shadow, log-dirty),
 *   or else one of its own. No other exit is charged for it.
 * - Page tables are write-protected at all times (DESIGN section 6): every
 *   pt_write is emulated (ptEmulate: exitRoundTripNs + ptEmulateNs), unless
 *   the out-of-sync option lets the guest write an L1 directly (below); it marks
 *   the table dirty when log-dirty is on, and is propagated into the shadows
 *   of that page (sh_validate_guest_entry): an upper-level shadow entry
 *   drops the shadow it pointed at (freeing it with its last reference) and
 *   points at the new child's shadow if one exists; an L1 entry is
 *   propagated anew. A store through a mapping into a live page-table page
 *   (`write` with ACCESS_PT_PAGE) is emulated the same way, after whatever
 *   fault its walk took (Xen faults, propagates read-only, retries, faults
 *   again and emulates); the emulation's own guest walk sets A/D, so no
 *   further fault is charged for them.
 * - CR3 loads (sh_update_cr3): an HVM guest's mov to CR3 is intercepted
 *   under shadow paging, so each load is an exit (cr3Exit: exitRoundTripNs
 *   + shadowCr3UpdateNs) charged to the vCPU; a PV guest switches with a
 *   hypercall in direct mode and under shadow alike, and is charged nothing
 *   for it. The top-level shadow of the new root is then found or built
 *   (shadow-walk.ts).
 * - Out-of-sync L1s (Xen's SHOPT_OUT_OF_SYNC, an option for HVM guests,
 *   shadow-oos.ts): the first write to a guest L1 unsyncs it with one shadow
 *   fault, later writes to it are direct, and the vCPU's next CR3 load
 *   resyncs it (oosResync).
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
 * Gaps: Xen emulates only writes to pages that currently have shadows, here
 * every pt_write is (DESIGN section 6), but for the direct writes to an
 * out-of-sync L1; 1 GiB guest mappings, which Xen never offers a shadowed
 * guest, have no FL1 shadow here: a write through one faults once per page
 * per round. What the out-of-sync model leaves out is listed in
 * shadow-oos.ts.
 */
export class ShadowTracker extends Tracker {
  readonly name = 'shadow' as const;
  /** The shadow tables and their walk (shadow-walk.ts), and the pool they live in. */
  private readonly walk: ShadowWalk;
  private readonly pool: ShadowPool;
  private readonly hvm: boolean;
  private readonly vcpus: number;
  /**
   * Shadow paging is in force: always for HVM, only during log-dirty for PV
   * (direct mode otherwise). A field, not a getter over logDirty: every
   * access reads it, and it changes only at ENABLE and OFF.
   */
  private shadowing: boolean;
  /** Whether a leaf shadow was built before or after its page's dirty mark (shadow-dirty-order.ts). */
  private readonly dirtyOrder: ShadowDirtyOrder;
  private readonly faultCostNs: number;
  private readonly emulateCostNs: number;

  // Columns of the batch being processed (pt_write operands, vpns).
  private pageCol: Int32Array = new Int32Array(0);
  private argCol: Int32Array = new Int32Array(0);
  private pteCol: Int32Array = new Int32Array(0);
  /** The event being processed made hardware A/D stores (set by onAdStore, consumed by its access). */
  private adPending = false;
  /** walk.builds at the last look-ahead (touchAhead). */
  private buildsSeen = 0;
  /** shadow_blow_tables and the pause it adds to (shadow-blow.ts). */
  private readonly blow: ShadowBlow;
  // Counters for stats().
  private faultsLogDirty = 0;
  private faultsAccessedDirty = 0;
  private faultsPhysWrite = 0;
  private faultsReadOnlyAfterOff = 0;
  private faultsReflected = 0;
  private ptWritesEmulated = 0;
  private dataWritesEmulated = 0;
  /** Out-of-sync L1s (shadow-oos.ts), when the option is on and the guest is HVM. */
  private readonly oos: ShadowOos | undefined;
  private readonly cr3ExitCostNs: number;
  /** Every event through Tracker.process and the hooks (the reference path processShadow is held to). */
  private readonly referenceLoop: boolean;
  /** This tracker as the fused loop sees it (shadow-run.ts). */
  private readonly loopHost: ShadowLoopHost;

  constructor(env: TrackerEnv) {
    super(env);
    const g = env.guest;
    const c = env.costs;
    this.hvm = g.type === 'hvm';
    this.vcpus = g.vcpus;
    this.shadowing = this.hvm;
    this.walk = new ShadowWalk(g, c, env.mmu.p2m, {
      charge: (kind, vcpu, wallNs, pfn, arg, costNs) => this.charge(kind, vcpu, wallNs, pfn, arg, costNs),
      leafBuiltSeq: () => this.dirtyOrder.buildStamp(this.logDirty),
    }, shadowPoolPagesOf(c, g, env.p2m));
    this.pool = this.walk.pool;
    this.dirtyOrder = new ShadowDirtyOrder(g.memPages, this.pool);
    this.faultCostNs = c.exitRoundTripNs + c.shadowFaultNs;
    this.emulateCostNs = c.exitRoundTripNs + c.ptEmulateNs;
    this.blow = new ShadowBlow(c.shadowBlowPerPageNs * c.shadowPagesPerTable);
    // Xen lets L1s go out of sync for HVM guests only (sh_unsync refuses PV).
    // It reaches this tracker only through propagation, dirty marks and charges.
    this.oos =
      env.shadowOos && this.hvm
        ? new ShadowOos(g.vcpus, g.memPages, this.faultCostNs, c.oosResyncPerPageNs, {
            propagate: (pfn, index, pte) => this.propagate(pfn, index, pte),
            tableWritten: (pfn) => {
              if (this.logDirty) this.mark(pfn);
            },
            charge: (kind, vcpu, wallNs, pfn, arg, costNs) => this.charge(kind, vcpu, wallNs, pfn, arg, costNs),
          })
        : undefined;
    this.cr3ExitCostNs = c.exitRoundTripNs + c.shadowCr3UpdateNs;
    this.referenceLoop = env.referenceLoop ?? false;
    this.loopHost = {
      walk: this.walk,
      pool: this.pool,
      shadowing: () => this.shadowing,
      writeThrough: (leaf, pfn, access, vcpu, wallNs, i, w, walkPfns) => this.writeThrough(leaf, pfn, access, vcpu, wallNs, i, w, walkPfns, false),
      readThrough: (pfn, access, vcpu, wallNs, vpn, w, walkPfns) => this.readThrough(pfn, access, vcpu, wallNs, vpn, w, walkPfns),
      ptWrite: (pfn, vcpu, wallNs, i, leafTable) => this.ptWrite(pfn, vcpu, wallNs, i, leafTable),
      cr3Load: (rootPfn, vcpu, wallNs) => this.onCr3Load(rootPfn, vcpu, wallNs),
      physWrite: (pfn, vcpu, wallNs) => this.physWrite(pfn, vcpu, wallNs),
    };
  }

  /** An HVM guest's accesses run in the fused loop (shadow-run.ts); a PV guest's frames are machine frames, which it does not walk. */
  override get fusedLoop(): boolean {
    return this.hvm && !this.referenceLoop;
  }

  override runFused(mmu: Mmu, batch: GuestBatch, from: number, tNs: Float64Array, run: EptRun): number {
    this.pageCol = batch.page;
    this.argCol = batch.arg;
    this.pteCol = batch.pte;
    this.walk.startBatch();
    if (this.adPending) {
      // An A/D store still waiting for its access (the fused loop settles
      // none): the next event goes through process, its time set as the loop would.
      tNs[from] = (from > 0 ? tNs[from - 1]! : batch.baseNs) + batch.dtNs[from]!;
      run.stop = EPT_RUN_EXIT;
      return from;
    }
    return runUnderShadow(mmu, batch, from, tNs, run, this.loopHost);
  }

  override process(batch: GuestBatch, mmu: MmuOutput, tNs: Float64Array, from: number, stopAtWallNs: number, to: number = batch.count): number {
    this.pageCol = batch.page;
    this.argCol = batch.arg;
    this.pteCol = batch.pte;
    this.walk.startBatch();
    if (this.referenceLoop || this.env.clock.throttlePct !== 0) return super.process(batch, mmu, tNs, from, stopAtWallNs, to);
    return this.processShadow(batch, mmu, tNs, from, stopAtWallNs, to);
  }

  /**
   * Tracker.process for shadow, unthrottled: the same events, hooks and
   * order, with the common access settled in the loop. A 4 KiB or 2 MiB
   * write to a data page through a leaf (or FL1) shadow entry already
   * writable, or a read through a shadowed path, with no A/D store before
   * it, costs the hypervisor nothing: the loop finds its leaf shadow and tests the
   * entry's bit, and calls no hook (onWrite and onRead settle the same
   * case the same way first). Called, each hook took the event's wall time
   * boxed in a heap number, a small allocation per access, and the call
   * itself (Tracker.process meets every tracker class, so V8 inlines none).
   * The reference path (super.process, eptLoop: false) is held to it byte
   * for byte by test/reducers/shadow-loop.test.ts.
   */
  private processShadow(batch: GuestBatch, mmu: MmuOutput, tNs: Float64Array, from: number, stopAtWallNs: number, n: number): number {
    let ad = 0;
    while (ad < mmu.adCount && mmu.adEvent[ad]! < from) ad++;
    const clock = this.env.clock;
    // VcpuClock.wallNs's rule, unthrottled, over locals as runUnderEpt
    // (ept-run.ts) has it and for the same reason: called, V8 inlined it but
    // kept the vCPU clock's latest time in its field, loaded and stored on
    // every event (a sixth of this loop's samples by the CPU profiler). The
    // hooks charge stalls (stallNs, read here per event) and never read the
    // latest time; pauses come between calls.
    const stallNs = clock.stallNs;
    const notBeforeNs = clock.notBeforeNs;
    const pausedFromNs = clock.pausedFromNs;
    const notBeforeMaxNs = clock.notBeforeMaxNs;
    const lastEventAt = clock.lastEventAt;
    const vcpus = clock.vcpus;
    let latest = clock.latestNs;
    clock.beginLoop(batch.kind);
    const src = this.env.oracle.srcVersion;
    const { kind, vcpu, page } = batch;
    const { dataPfn, access, adEvent, adPtPfn, walkPfns } = mmu;
    const adCount = mmu.adCount;
    const walk = this.walk;
    const pool = this.pool;
    // Changes only at ENABLE and OFF, between calls (the driver's).
    const shadowing = this.shadowing;
    // leaf4k's cache probe and the entry's writable bit, over locals: the
    // pool's arrays are replaced (grown) and its generation moves only in
    // the hooks (faults, pt_writes, CR3 loads), so they are read again after
    // each hook, not on every access.
    const cr3Top = walk.topShadows;
    const cache = walk.cacheRows;
    let pfnOf = pool.pfnOf;
    let rwBits = pool.rwBits;
    let generation = pool.generation | 0;
    let ahead = this.env.mmu.lookAhead ? from : n;
    let i = from;
    for (; i < n; i++) {
      if (i === ahead) {
        ahead = i + TOUCH_AHEAD_EVENTS < n ? i + TOUCH_AHEAD_EVENTS : n;
        this.touchAhead(mmu, i, ahead);
      }
      const v = vcpu[i]!;
      const g = tNs[i]!;
      let wall: number;
      if (v < vcpus) {
        wall = g + stallNs[v]!;
        if (wall < notBeforeMaxNs) {
          const nb = notBeforeNs[v]!;
          if (wall < nb && wall >= pausedFromNs[v]!) {
            if (nb >= stopAtWallNs) break;
            wall = nb;
            stallNs[v] = wall - g;
          }
        }
        if (wall >= stopAtWallNs) break;
        lastEventAt[v] = i;
      } else {
        wall = g > latest ? g : latest;
        if (wall >= stopAtWallNs) break;
      }
      if (wall > latest) latest = wall;
      const k = kind[i]!;
      while (ad < adCount && adEvent[ad] === i) {
        const pt = adPtPfn[ad++]!;
        src[pt] = src[pt]! + 1;
        this.onAdStore(pt);
      }
      const a = access[i]!;
      const pfn = dataPfn[i]!;
      if ((a & FAULT) !== 0) this.onGuestFault(v, wall);
      else if (pfn < 0) {
        if (k !== KIND_CR3_LOAD) continue;
        this.onCr3Load(page[i]!, v, wall);
      } else if ((a & WRITE) !== 0) {
        src[pfn] = src[pfn]! + 1;
        if (k === KIND_PT_WRITE) this.onPtWrite(pfn, v, wall, i, mmu);
        else {
          // onWrite's first case: nothing to do. A 2 MiB write's entry in
          // its FL1 shadow is the page's offset in the mapping (writeThrough).
          // Otherwise the leaf found here goes to writeThrough as onWrite
          // would find it (no A/D store pending: ad false), not found again.
          // (A store with no walk, a phys_write, has no root: a device's has no vCPU either.)
          const root = walkPfns[i << 2]!;
          const s = root >= 0 ? cr3Top[v]! : -1;
          if ((a & (ACCESS_1G | ACCESS_PT_PAGE)) === 0 && shadowing && !this.adPending && s >= 0 && pfnOf[s] === root) {
            const vpn = page[i]!;
            const key = vpn >> 9;
            const o = walkCacheRow(key, s);
            let leaf = cache[o] === key && cache[o + 1] === s && cache[o + 2] === generation ? cache[o + 3]! : walk.leaf4k(root, vpn, v);
            let entry = vpn;
            if ((a & ACCESS_2M) !== 0) {
              // leafGeneral's answer for a 2 MiB access: its walk to the
              // level-2 shadow entry is a 4 KiB access's (the same upper
              // tables), whose entry is the FL1 shadow if that shadows
              // this mapping. So the walk cache serves the kernel's direct
              // map too (21% of apache's events).
              if (leaf >= 0 && pfnOf[leaf] !== walk.fl1Key(pfn)) leaf = -1;
              entry = pfn;
            }
            if (leaf >= 0 && (rwBits[leaf * ROW_WORDS + ((entry & 511) >>> 5)]! & (1 << (entry & 31))) !== 0) continue;
            this.writeThrough(leaf, pfn, a, v, wall, i, i << 2, walkPfns, false);
          } else this.onWrite(pfn, a, v, wall, i, mmu);
        }
      } else {
        // onRead's: a shadowed path, no A/D store to propagate.
        if ((a & ACCESS_1G) === 0 && shadowing && !this.adPending) {
          const root = walkPfns[i << 2]!;
          const s = cr3Top[v]!;
          if (s >= 0 && pfnOf[s] === root) {
            const vpn = page[i]!;
            const key = vpn >> 9;
            const o = walkCacheRow(key, s);
            const leaf = cache[o] === key && cache[o + 1] === s && cache[o + 2] === generation ? cache[o + 3]! : walk.leaf4k(root, vpn, v);
            if (leaf >= 0 && ((a & ACCESS_2M) === 0 || pfnOf[leaf] === walk.fl1Key(pfn))) continue;
          }
        }
        this.onRead(pfn, a, v, wall, i, mmu);
      }
      // A hook ran: it may have grown the pool or moved its generation.
      pfnOf = pool.pfnOf;
      rwBits = pool.rwBits;
      generation = pool.generation | 0;
    }
    clock.latestNs = latest;
    clock.settle(batch, tNs);
    return i;
  }

  /**
   * The look-ahead (touch-ahead.ts): each page's version, which every write
   * bumps. Not the pages' dirty sequences: only a first write in a round
   * stores one (a store, which does not wait for its line), and only a
   * write through a read-only entry to a page already dirty reads one. Not
   * each write's leaf-shadow row either: the rows (64 bytes a leaf shadow,
   * 128 KiB for the 4 GiB muncher's 2,048) stay in the L2, and finding the
   * row twice (leaf4k here and in the loop) cost more than the look-ahead
   * saved. And each walk's leaf table's shadow history (read when a missing
   * leaf shadow is rebuilt) only while shadows are being built: on a guest
   * whose leaf shadows fit the pool, builds come in a burst after each
   * blow, and the look-ahead of every other block would load lines no one
   * reads.
   */
  protected override touchAhead(mmu: MmuOutput, from: number, to: number): void {
    touchPages(mmu.dataPfn, from, to, this.env.oracle.srcVersion, NO_PAGES, touchScratch);
    const builds = this.walk.builds;
    if (builds !== this.buildsSeen) {
      this.buildsSeen = builds;
      touchLeafTables(mmu.walkPfns, from, to, this.walk.shadowHistory, touchScratch);
    }
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
      leaf = this.walk.leaf4k(root, vpn, vcpu);
      if (leaf >= 0 && this.pool.entryWritable(leaf, vpn)) {
        if (ad) this.adFault(vcpu, wallNs, pfn);
        return;
      }
    } else {
      const vpn = this.pageCol[i]!;
      leaf = (access & (ACCESS_2M | ACCESS_1G)) === 0 ? this.walk.leaf4k(root, vpn, vcpu) : this.walk.leafGeneral(vpn, vcpu, access, w, walkPfns, pfn);
    }
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
      leaf = this.walk.fault(this.pageCol[i]!, vcpu, wallNs, access, w, walkPfns, pfn);
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
    if ((bits & bit) !== 0 || this.dirtyOrder.writableAsBuilt(leaf, pfn, this.dirty.isDirty(pfn))) {
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

  protected override onRead(pfn: number, access: number, vcpu: number, wallNs: number, i: number, mmu: MmuOutput): void {
    const ad = this.adPending;
    this.adPending = false;
    if (!this.shadowing) return;
    if (this.readThrough(pfn, access, vcpu, wallNs, this.pageCol[i]!, i << 2, mmu.walkPfns) && ad) this.adFault(vcpu, wallNs, pfn);
  }

  /** A read's shadow walk, its walk's tables at walkPfns[w..w+3]: a missing shadow faults. Returns whether the path was there. */
  private readThrough(pfn: number, access: number, vcpu: number, wallNs: number, vpn: number, w: number, walkPfns: Int32Array): boolean {
    const leaf = (access & (ACCESS_2M | ACCESS_1G)) === 0 ? this.walk.leaf4k(walkPfns[w]!, vpn, vcpu) : this.walk.leafGeneral(vpn, vcpu, access, w, walkPfns, pfn);
    if (leaf !== -1) return true;
    this.walk.fault(vpn, vcpu, wallNs, access, w, walkPfns, pfn);
    return false;
  }

  protected override onPtWrite(pfn: number, vcpu: number, wallNs: number, i: number, mmu: MmuOutput): void {
    this.ptWrite(pfn, vcpu, wallNs, i, (mmu.access[i]! & ACCESS_LEAF_TABLE) !== 0);
  }

  /** A pt_write the MMU has applied; `leafTable`: its page was live as a leaf table, and only as one, at the write. */
  private ptWrite(pfn: number, vcpu: number, wallNs: number, i: number, leafTable: boolean): void {
    this.adPending = false;
    if (!this.shadowing) return;
    const index = this.argCol[i]!;
    const pte = this.pteCol[i]!;
    if (this.oos !== undefined && this.oos.write(pfn, index, pte, vcpu, wallNs, leafTable)) return;
    const updated = this.propagate(pfn, index, pte);
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
    if (!this.shadowing || vcpu >= this.vcpus) return;
    this.faultsReflected++;
    this.charge(EVENT.shadowFault, vcpu, wallNs, -1, 0, this.faultCostNs);
  }

  protected override onCr3Load(rootPfn: number, vcpu: number, wallNs: number): void {
    this.adPending = false;
    if (!this.shadowing) return;
    // An HVM guest's CR3 write exits under shadow paging (HAP lets the
    // hardware load it): the exit and sh_update_cr3. A PV guest switches
    // with a hypercall in direct mode and under shadow alike.
    if (this.hvm && vcpu < this.vcpus) this.charge(EVENT.cr3Exit, vcpu, wallNs, rootPfn, 0, this.cr3ExitCostNs);
    // sh_update_cr3 resyncs this vCPU's out-of-sync L1s first.
    if (this.oos !== undefined) this.oos.resyncVcpu(vcpu, wallNs);
    this.walk.loadCr3(rootPfn, vcpu, wallNs);
  }

  /** sh_validate_guest_entry: each shadow of `pfn` takes the guest's new entry (shadow-propagate.ts). */
  private propagate(pfn: number, index: number, pte: number): number {
    return propagateGuestEntry(this.pool, this.walk, this.logDirty, this.dirty, pfn, index, pte);
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
    if (this.dirty.mark(pfn)) this.dirtyOrder.marked(pfn);
  }

  // ---- log-dirty operations ----

  protected override onEnable(): void {
    this.shadowing = true;
    // An HVM guest has shadows already: blow them so that every mapping is
    // write-protected again. A PV guest enters shadow mode with none.
    if (this.hvm) this.blow.blowAll(this.walk, this.oos);
  }

  protected override onClean(): void {
    this.blow.blowAll(this.walk, this.oos);
  }

  protected override onOff(): void {
    this.shadowing = this.hvm;
    if (!this.hvm) this.blow.teardown(this.walk);
  }

  /** The operation that blew the tables pauses the domain for that too (inside paging_log_dirty_op's pause). */
  protected override pauseDomain(kind: number, wallNs: number, arg: number, costNs: number): void {
    super.pauseDomain(kind, wallNs, arg, costNs + this.blow.takePauseNs());
  }

  override memoryBytes(): number {
    return super.memoryBytes() + this.pool.pagesInUse * 4096;
  }

  override stats(): Record<string, number> {
    return {
      ...this.pool.stats(),
      ...this.walk.buildStats(),
      ...this.blow.stats(),
      faultsMissingShadow: this.walk.faultsMissingShadow,
      faultsLogDirty: this.faultsLogDirty,
      faultsAccessedDirty: this.faultsAccessedDirty,
      faultsPhysWrite: this.faultsPhysWrite,
      faultsReadOnlyAfterOff: this.faultsReadOnlyAfterOff,
      faultsReflected: this.faultsReflected,
      ptWritesEmulated: this.ptWritesEmulated,
      dataWritesEmulated: this.dataWritesEmulated,
      ...this.oos?.stats(),
    };
  }
}
