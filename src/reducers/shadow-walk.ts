import { RunEventKind } from '../events/run-event-kind.js';
import { type CostModel, CostModelError } from '../model/cost-model.js';
import type { P2mMap } from '../model/p2m-map.js';
import { PTE_FLAG_BITS, PTE_P, PTE_PS } from '../model/pte.js';
import { ACCESS_1G, ACCESS_2M } from './mmu-output.js';
import { FL1_LEVEL, ShadowPool } from './shadow-pool.js';
import type { TrackerGuest } from './tracker.js';
// Module-local, as in tracker.ts.
const EVENT = RunEventKind;

/** Entries of the shadow-walk cache (a power of two), and the hash shift that indexes it. */
const WALK_CACHE_BITS = 9;
const WALK_CACHE_ENTRIES = 1 << WALK_CACHE_BITS;
const WALK_CACHE_SHIFT = 32 - WALK_CACHE_BITS;

/**
 * The row of the shadow-walk cache (ShadowWalk.leaf4k) for 2 MiB region
 * `key` of virtual space under top-level shadow `s`: the offset of its four
 * words [key, top, generation, leaf].
 */
export function walkCacheRow(key: number, s: number): number {
  return (Math.imul(key ^ Math.imul(s, 0x27d4_eb2d), 0x9e37_79b1) >>> WALK_CACHE_SHIFT) << 2;
}

/**
 * The shadow page tables as the hardware walks them and Xen's fault handler
 * builds them, for the shadow tracker (tracker-shadow.ts, which gives the
 * leaf entries their log-dirty meaning). The shadows themselves live in the
 * pool (shadow-pool.ts); this file finds and builds the path of one access.
 *
 * Follows xen/arch/x86/mm/shadow/multi.c and common.c:
 *
 * - The walk. From the top-level shadow in the vCPU's CR3, the access must
 *   find a present shadow entry at every level down to the L1 shadow of its
 *   4 KiB mapping, or the FL1 shadow that splinters its 2 MiB mapping. A
 *   1 GiB mapping has no leaf shadow (Xen never offers one to a shadowed
 *   guest); its path is walked to the L3 only.
 * - The fault (sh_page_fault, shadow_get_and_create_l1e). A walk that finds
 *   a missing entry takes one shadow fault (shadowFault: exitRoundTripNs +
 *   shadowFaultNs, arg = shadows built), and the handler builds each missing
 *   shadow on the path (shadowRebuild each: shadowRebuildPerTableNs, arg =
 *   pool pages), taking costs.shadowPagesPerTable pages of the pool
 *   (libxl's default for the guest, src/model/shadow-pool-size.ts, or
 *   costs.shadowPoolPages), and links the path: a walk with missing
 *   shadows is one fault plus N rebuilds. A shadow that exists but is not linked
 *   from this parent yet (a kernel L3 shared by every address space, seen
 *   from a new top-level shadow) costs the fault and no rebuild, as in Xen.
 *   A built shadow counts as fully propagated: Xen fills L1 entries on
 *   demand with prefetch; the rebuild cost stands for that work, so reads
 *   through an existing shadow are free.
 * - CR3 loads (sh_update_cr3, sh_set_toplevel_shadow). The top-level shadow
 *   of the new root is found or built (a shadowRebuild charged to the vCPU)
 *   and pinned at the head of the pinned list. A PV guest entering shadow
 *   mode at ENABLE gets its top-level shadows on its first walk after it
 *   (Xen builds them at ENABLE).
 * - Room (shadow_prealloc). When a build finds no room, Xen's
 *   _shadow_prealloc unpins top-level shadows from the least recently
 *   loaded end (freeing each with the shadows only it reached), then
 *   unhooks the top-level shadows in use. Each shadow freed costs
 *   shadowBlowPerPageNs per page, added to the shadowRebuild that needed
 *   the room. An evicted table is rebuilt on its next use: an Apache-like
 *   guest with more address spaces than the pool holds thrashes it ("if the
 *   cache isn't big enough, performance is terrible", seed 002).
 *
 * Xen walks the shadows in hardware; the model walks them for every access,
 * so the common walk (4 KiB, every entry present) goes through a small
 * cache keyed by the pool's generation (see leaf4k).
 */
export class ShadowWalk {
  readonly pool: ShadowPool;
  /** PAE paging: the top-level shadow is an L3 of 4 entries. */
  readonly pae: boolean;
  private readonly topLevel: number;
  /** The top-level shadow each vCPU has in CR3 (holding a reference), -1 for none. */
  private readonly cr3Top: Int32Array;
  /** mfn -> pfn and pfn -> mfn for a PV guest (its PTEs hold mfns); undefined for HVM. */
  private readonly m2p: Int32Array | undefined;
  private readonly p2m: Int32Array | undefined;
  private readonly memPages: number;
  /** Bit per level (1 << level) of each page once shadowed there, to tell rebuilds from first builds. */
  private readonly everShadowed: Uint8Array;
  private readonly faultCostNs: number;
  private readonly rebuildCostNs: number;
  private readonly freeCostPerShadowNs: number;
  /** Eviction cost to add to the next shadowRebuild charge. */
  private pendingEvictNs = 0;
  /** Cache of 4 KiB shadow walks (see leaf4k): WALK_CACHE_ENTRIES of [key, top, generation, leaf]. */
  private readonly walkCache = new Int32Array(WALK_CACHE_ENTRIES * 4).fill(-1);
  /** The pool generation at which walkCache was last emptied (see startBatch). */
  private walkCacheSince = 0;

  // Counters for the tracker's stats().
  private buildCount = 0;
  private rebuildCount = 0;
  private evictionCount = 0;
  private evictedShadowCount = 0;
  private missingShadowFaultCount = 0;

  constructor(
    guest: TrackerGuest,
    costs: CostModel,
    /** The PV guest's p2m (its PTEs hold mfns); undefined for HVM. */
    p2m: P2mMap | undefined,
    private readonly tracker: ShadowWalkContext,
    /** The pool's pages: the cost model's override or libxl's default for this guest (shadow-pool-size.ts). */
    poolPages: number,
  ) {
    const c = costs;
    this.pae = guest.paging === 'pae';
    this.topLevel = this.pae ? 3 : 4;
    this.memPages = guest.memPages;
    const minShadows = guest.vcpus + this.topLevel;
    if (Math.floor(poolPages / c.shadowPagesPerTable) < minShadows) {
      throw new CostModelError(
        `shadow pool of ${poolPages} pages holds fewer than ${minShadows} shadows of ${c.shadowPagesPerTable} pages: ` +
          `one top-level shadow per vCPU plus one walk's path must fit (Xen's shadow_min_acceptable_pages); ` +
          `set shadowPoolPages to at least ${minShadows * c.shadowPagesPerTable} in the cost model`,
      );
    }
    this.m2p = p2m?.mfnToPfn;
    this.p2m = p2m?.pfnToMfn;
    // Keys: pfns for table shadows, frames (mfns for PV) for FL1 shadows.
    this.pool = new ShadowPool(Math.max(guest.memPages, this.m2p?.length ?? 0), poolPages, c.shadowPagesPerTable);
    this.cr3Top = new Int32Array(guest.vcpus).fill(-1);
    this.everShadowed = new Uint8Array(guest.memPages);
    this.faultCostNs = c.exitRoundTripNs + c.shadowFaultNs;
    this.rebuildCostNs = c.shadowRebuildPerTableNs;
    this.freeCostPerShadowNs = c.shadowBlowPerPageNs * c.shadowPagesPerTable;
  }

  /**
   * The top-level shadow in each vCPU's CR3 and the walk cache, for the
   * shadow tracker's loop, which probes the cache itself (leaf4k's first
   * case) and calls leaf4k on a miss. Neither array is ever replaced.
   */
  get topShadows(): Int32Array {
    return this.cr3Top;
  }
  get cacheRows(): Int32Array {
    return this.walkCache;
  }

  /** Bit per level (1 << level) of each page once shadowed there (for the look-ahead, touch-ahead.ts). */
  get shadowHistory(): Uint8Array {
    return this.everShadowed;
  }

  /** Shadows built, and of those the rebuilds of a table shadowed before at that level. */
  get builds(): number {
    return this.buildCount;
  }
  get rebuilds(): number {
    return this.rebuildCount;
  }
  /** Times a build had to make room, and the shadows freed for it. */
  get evictions(): number {
    return this.evictionCount;
  }
  get evictedShadows(): number {
    return this.evictedShadowCount;
  }
  /** Shadow faults taken for a missing shadow entry. */
  get faultsMissingShadow(): number {
    return this.missingShadowFaultCount;
  }

  /** The builds and evictions, as the run's tracker stats name them. */
  buildStats(): Record<string, number> {
    return { shadowBuilds: this.buildCount, shadowRebuilds: this.rebuildCount, shadowEvictions: this.evictionCount, shadowsEvicted: this.evictedShadowCount };
  }

  /**
   * Called before each batch. The walk cache keeps generations as Int32:
   * emptied long before one could come round again (no call bumps the
   * generation 2^31 times).
   */
  startBatch(): void {
    const generation = this.pool.generation;
    if (generation - this.walkCacheSince >= 0x4000_0000) {
      this.walkCache.fill(-1);
      this.walkCacheSince = generation;
    }
  }

  /**
   * The L1 shadow the 4 KiB translation of `vpn` (whose walk started at
   * guest table `root`) uses, following present shadow entries from CR3;
   * -1 if one is missing.
   */
  leaf4k(root: number, vpn: number, vcpu: number): number {
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
    const o = walkCacheRow(key, s);
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
  leafGeneral(vpn: number, vcpu: number, access: number, w: number, walkPfns: Int32Array, pfn: number): number {
    let s = this.cr3Top[vcpu]!;
    if (s < 0 || this.pool.pfnOf[s] !== walkPfns[w]) return -1;
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
  fault(vpn: number, vcpu: number, wallNs: number, access: number, w: number, walkPfns: Int32Array, pfn: number): number {
    const pool = this.pool;
    const depth = this.walkDepth(w, walkPfns);
    const fl1Base = (access & ACCESS_2M) !== 0 ? this.fl1Key(pfn) : -1;
    // Room first (shadow_prealloc before any shadow_alloc): making room can
    // free shadows of this very path, so count again until they all fit.
    let missing = this.missingOnPath(vcpu, w, walkPfns, depth, fl1Base, vpn);
    while (missing > pool.freeShadows) {
      this.makeRoom(missing);
      missing = this.missingOnPath(vcpu, w, walkPfns, depth, fl1Base, vpn);
    }
    this.missingShadowFaultCount++;
    this.tracker.charge(EVENT.shadowFault, vcpu, wallNs, pfn, missing, this.faultCostNs);
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

  /**
   * The shadow side of sh_update_cr3: `vcpu` loads the table at `rootPfn`,
   * whose top-level shadow is found or built and installed in its CR3.
   */
  loadCr3(rootPfn: number, vcpu: number, wallNs: number): void {
    let s = this.pool.lookup(rootPfn, this.topLevel);
    if (s < 0) {
      this.makeRoom(1);
      s = this.build(rootPfn, this.topLevel, vcpu, wallNs);
    }
    this.installTop(vcpu, s);
  }

  /** shadow_blow_tables: frees every shadow but the top-level ones in a CR3 (emptied). Returns the shadows freed. */
  blowAll(): number {
    return this.pool.blowAll(this.cr3Top);
  }

  /** Leaving shadow mode (a PV guest at OFF): frees every shadow. Returns the shadows freed. */
  teardown(): number {
    return this.pool.teardown(this.cr3Top);
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
    const s = this.pool.alloc(pfn, level, level <= 1 ? this.tracker.leafBuiltSeq() : 0);
    this.buildCount++;
    if (level >= 1) {
      const bit = 1 << level;
      if ((this.everShadowed[pfn]! & bit) !== 0) this.rebuildCount++;
      else this.everShadowed[pfn] = this.everShadowed[pfn]! | bit;
    }
    const cost = this.rebuildCostNs + this.pendingEvictNs;
    this.pendingEvictNs = 0;
    this.tracker.charge(EVENT.shadowRebuild, vcpu, wallNs, pfn, this.pool.pagesPerShadow, cost);
    return s;
  }

  /** _shadow_prealloc: frees shadows until `shadows` fit; their cost goes to the build that needed them. */
  private makeRoom(shadows: number): void {
    const freed = this.pool.makeRoom(shadows, this.cr3Top);
    if (freed === 0 && this.pool.freeShadows < shadows) {
      throw new Error(`shadow pool: cannot free room for ${shadows} shadows (pool of ${this.pool.maxShadows})`);
    }
    if (freed > 0) {
      this.evictionCount++;
      this.evictedShadowCount += freed;
      this.pendingEvictNs += freed * this.freeCostPerShadowNs;
    }
  }

  /** The existing shadow that a guest entry at `level` points at, or -1 (none yet, or not a table). */
  childShadow(pte: number, level: number): number {
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
  fl1Key(pfn: number): number {
    const frame = this.p2m === undefined ? pfn : this.p2m[pfn]!;
    return frame - (frame & 511);
  }

  /** The pfn a guest entry's frame names (its mfn for a PV guest), -1 if outside the guest. */
  framePfn(frame: number): number {
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
}

/** What the walk needs from the shadow tracker. */
export interface ShadowWalkContext {
  /** Charges an exit or fault to a vCPU and records it as a run event (Tracker.charge). */
  charge(kind: number, vcpu: number, wallNs: number, pfn: number, arg: number, costNs: number): void;
  /** The builtSeq stamp of an L1/FL1 shadow being built now (its entries' log-dirty state, tracker-shadow.ts). */
  leafBuiltSeq(): number;
}
