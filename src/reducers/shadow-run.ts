/**
 * The processor walking an HVM guest's accesses through Xen's shadow page
 * tables (tracker-shadow.ts), fused with the MMU's walk of the guest's own
 * tables: one pass per event where applyRange and ShadowTracker.process
 * make two. It is the shadow tracker's counterpart of runUnderEpt
 * (ept-run.ts) and stops the same ways (EPT_RUN_TIME, EPT_RUN_EXIT).
 *
 * Under shadow paging the hardware walks only the shadows; the guest's
 * tables are what Xen reads when it builds them (sh_page_fault,
 * xen/arch/x86/mm/shadow/multi.c). The model still walks the guest's tables
 * for every access (the MMU's state: A/D bits, the pages each access
 * reaches), and the tracker then walks the shadows from the vCPU's
 * top-level shadow: here both in one iteration, the guest walk first, as
 * walkX86_64 (walk-x86-64.ts) does it line for line (HVM, 4 levels, one-word
 * entries: the guests runsUnderEpt admits, and no PV guest, whose frames
 * are machine frames), then the shadow walk's common case as
 * ShadowTracker.processShadow settles it: a write through a writable leaf
 * (or FL1) shadow entry, a read through a shadowed path. The store is
 * counted for the oracle and the vCPU's clock moves on; nothing else is
 * involved.
 *
 * Everything the tracker charges for (a write through a read-only entry, a
 * missing shadow, a pt_write, a CR3 load, a phys_write) goes to the same
 * tracker methods processShadow calls, with the walk's tables in a scratch
 * column instead of the MMU's output. The walk the inlined code does not
 * finish (a flag to set, a fault, a 1 GiB page, no CR3 yet), a store into a
 * page-table page, and anything else stops the loop before the event
 * (EPT_RUN_EXIT): the caller runs it through Mmu.applyRange and
 * ShadowTracker.process. Nothing of that event has been done but the
 * clock's rule (which the reference loop repeats to the same result) and
 * a paging-structure-cache fill (which its walk makes alike).
 *
 * Why fused: the second loop, the MMU's six output stores per event and
 * the tracker's reads of them. On apache, 1,085 -> 921 instructions per
 * event (cachegrind, a warm run on 5 s of the guest) and about 0.91x the
 * CPU time (ab-builds, both orders); on the 4 GiB random muncher about
 * 0.89x. The reference path (eptLoop: false) and processShadow are held to
 * it byte for byte by test/reducers/shadow-loop.test.ts.
 */
import type { GuestBatch } from '../events/guest-batch.js';
import { GuestEventKind } from '../events/guest-event-kind.js';
import { PTE_A, PTE_D, PTE_FLAG_BITS, PTE_P, PTE_PS, PTE_RW } from '../model/pte.js';
import { EPT_RUN_END, EPT_RUN_EXIT, EPT_RUN_TIME, type EptRun } from './ept-run.js';
import type { Mmu } from './mmu.js';
import { ACCESS_2M, ACCESS_WRITE } from './mmu-output.js';
import { TABLE_ENTRIES, TABLE_SHIFT } from './mmu-table-pool.js';
import { PSC_MASK, PSC_SHIFT } from './paging-structure-cache.js';
import { ROW_WORDS, type ShadowPool } from './shadow-pool.js';
import { type ShadowWalk, walkCacheRow } from './shadow-walk.js';
import { TOUCH_AHEAD_EVENTS, touchLeafVersions, touchLeaves } from './touch-ahead.js';

/**
 * What the fused loop calls in the shadow tracker: its state and the paths
 * that charge. Each tracker's closures, not methods of its class: V8
 * inlined methods, and what they call, into the loop (19% more
 * instructions per event by cachegrind on 5 s of apache). The wall time is
 * an argument, as processShadow passes it, though V8 then boxes it for
 * every event (43 MB of garbage per 30 s apache run): handed over in a
 * Float64Array slot instead it made 13 MB, but the run took 3% more CPU
 * time (ab-builds, 60 s apache, both orders: 1.033 and 1/0.975). The
 * closures cost one deoptimisation of the loop when a second tracker's
 * reach it ("wrong call target"); it is then compiled calling them.
 */
export interface ShadowLoopHost {
  readonly walk: ShadowWalk;
  readonly pool: ShadowPool;
  /** Shadow paging in force (changes only at ENABLE and OFF, between calls). */
  shadowing(): boolean;
  /** A write through leaf shadow `leaf` (-1: missing), its walk's tables at walkPfns[w..w+3]. */
  writeThrough(leaf: number, pfn: number, access: number, vcpu: number, wallNs: number, i: number, w: number, walkPfns: Int32Array): void;
  /** A read not settled by the loop (onRead with no A/D store pending). */
  readThrough(pfn: number, access: number, vcpu: number, wallNs: number, vpn: number, w: number, walkPfns: Int32Array): void;
  /** A pt_write the MMU has applied; `leafTable`: the page was live as a leaf table, and only as one, at the write. */
  ptWrite(pfn: number, vcpu: number, wallNs: number, i: number, leafTable: boolean): void;
  cr3Load(rootPfn: number, vcpu: number, wallNs: number): void;
  physWrite(pfn: number, vcpu: number, wallNs: number): void;
}

// Module-local copies of imported constants for the loop (as in ept-run.ts).
const P = PTE_P;
const A = PTE_A;
const D = PTE_D;
const RW = PTE_RW;
const PRESENT_OR_PS = PTE_P | PTE_PS;
const ADRW_P = PTE_A | PTE_D | PTE_RW | PTE_P;
const A_BIT = 31 - Math.clz32(PTE_A);
const D_BIT = 31 - Math.clz32(PTE_D);
const RW_BIT = 31 - Math.clz32(PTE_RW);
const SHIFT = TABLE_SHIFT;
const ENTRIES = TABLE_ENTRIES;
const FRAME_SHIFT = PTE_FLAG_BITS;
const ROW_MASK = PSC_MASK;
const ROW_SHIFT = PSC_SHIFT;
const WORDS = ROW_WORDS;
const SIZE_2M = ACCESS_2M;
const WRITE = ACCESS_WRITE;
const KIND_READ = GuestEventKind.read;
const KIND_PT_WRITE = GuestEventKind.ptWrite;
const KIND_CR3_LOAD = GuestEventKind.cr3Load;
const KIND_PHYS_WRITE = GuestEventKind.physWrite;
const KIND_IDLE = GuestEventKind.idle;
/** The walk's tables of the event a hook is called for (root, L3, L2, L1 or -1), as the MMU's walkPfns has them. */
const walkScratch = new Int32Array(4);

/**
 * The fused loop from event `from` on (see the file comment). Returns the
 * first event not run; `run.stop` says why it stopped. Event times are
 * summed from dtNs and stored in tNs for every event reached, the one it
 * stops at included, as runUnderEpt does.
 */
export function runUnderShadow(mmu: Mmu, batch: GuestBatch, from: number, tNs: Float64Array, run: EptRun, host: ShadowLoopHost): number {
  const n = batch.count;
  const kindCol = batch.kind;
  const vcpuCol = batch.vcpu;
  const pageCol = batch.page;
  const argCol = batch.arg;
  const pteCol = batch.pte;
  const dtCol = batch.dtNs;
  const rootOfVcpu = mmu.rootOfVcpu;
  const tables = mmu.pool;
  const slotOfPfn = tables.slotOfPfn;
  const slotOfFrame = tables.slotOfFrame;
  const frameLimit = mmu.frameLimit;
  const liveMask = mmu.census.liveMask;
  const ptPageBits = mmu.census.ptPageBits;
  const memPages = mmu.memPages;
  const pscCache = mmu.psc;
  const psc = pscCache.rows;
  let tag = pscCache.tag;
  let entries = tables.entries;
  let nonzero = tables.nonzeroEntries;
  // Level-1 leaf count changes of the inlined pt_writes, added to the
  // census once (as walkX86_64 does).
  let leafPresent1 = 0;
  let leafA1 = 0;
  let leafD1 = 0;
  let leafRw1 = 0;
  let leafAdrw1 = 0;
  const clock = run.clock;
  const stallNs = clock.stallNs;
  const notBeforeNs = clock.notBeforeNs;
  const pausedFromNs = clock.pausedFromNs;
  // Pauses come between loops (the toolstack's), never from a hook.
  const notBeforeMaxNs = clock.notBeforeMaxNs;
  const lastEventAt = clock.lastEventAt;
  const vcpus = clock.vcpus;
  let latest = clock.latestNs;
  clock.beginLoop(kindCol);
  const stopAtWallNs = run.stopAtWallNs;
  const src = run.srcVersion;
  const walk = host.walk;
  const pool = host.pool;
  const shadowing = host.shadowing();
  const cr3Top = walk.topShadows;
  const cache = walk.cacheRows;
  // Replaced (grown) or moved only by the hooks: read again after each.
  let pfnOf = pool.pfnOf;
  let rwBits = pool.rwBits;
  let generation = pool.generation | 0;
  const walkPfns = walkScratch;
  let why = EPT_RUN_END;
  let walks = 0;
  let g = batch.baseNs;
  if (from > 0) g = tNs[from - 1]!;
  let i = from;
  let ahead = mmu.lookAhead ? from : n;
  const scratch = run.scratch;
  try {
    for (; i < n; i++) {
      if (i === ahead) {
        ahead = i + TOUCH_AHEAD_EVENTS < n ? i + TOUCH_AHEAD_EVENTS : n;
        touchLeafVersions(scratch, touchLeaves(kindCol, vcpuCol, pageCol, i, ahead, rootOfVcpu, psc, tag, entries, scratch), frameLimit, ptPageBits, src);
      }
      const v = vcpuCol[i]!;
      g += dtCol[i]!;
      tNs[i] = g;
      // VcpuClock.wallNs's rule, unthrottled, written out over locals (as in runUnderEpt).
      let wall: number;
      if (v < vcpus) {
        wall = g + stallNs[v]!;
        if (wall < notBeforeMaxNs) {
          const nb = notBeforeNs[v]!;
          if (wall < nb && wall >= pausedFromNs[v]!) {
            if (nb >= stopAtWallNs) {
              why = EPT_RUN_TIME;
              break;
            }
            wall = nb;
            stallNs[v] = wall - g;
          }
        }
        if (wall >= stopAtWallNs) {
          why = EPT_RUN_TIME;
          break;
        }
        lastEventAt[v] = i;
      } else {
        wall = g > latest ? g : latest;
        if (wall >= stopAtWallNs) {
          why = EPT_RUN_TIME;
          break;
        }
      }
      if (wall > latest) latest = wall;
      const kind = kindCol[i]!;
      if (kind <= KIND_READ) {
        // write is 0 and read 1.
        const isWrite = kind ^ 1;
        const vpn = pageCol[i]!;
        const root = rootOfVcpu[v]!;
        if (root < 0) break;
        // The guest walk, as walkX86_64 (walk-x86-64.ts) has it for an HVM guest.
        let leaf: number;
        let upper: number;
        let pfn: number;
        let t3: number;
        let t2: number;
        let t1: number;
        let size = 0;
        let f: number;
        const key = vpn >> 9;
        const h = ((key ^ (root << 5)) & ROW_MASK) << ROW_SHIFT;
        if (psc[h] === (root | tag) && psc[h + 1] === key) {
          leaf = entries[(psc[h + 3]! << SHIFT) | (vpn & 511)]!;
          f = leaf >>> FRAME_SHIFT;
          if ((leaf & P) === 0 || f >= frameLimit) break;
          pfn = f;
          t3 = psc[h + 4]!;
          t2 = psc[h + 5]!;
          t1 = psc[h + 6]!;
          upper = psc[h + 7]!;
        } else {
          const e4 = entries[(slotOfPfn[root]! << SHIFT) | ((vpn >> 27) & 511)]!;
          f = e4 >>> FRAME_SHIFT;
          if ((e4 & PRESENT_OR_PS) !== P || f >= frameLimit) break;
          const s3 = slotOfFrame[f]!;
          if (s3 <= 0) break;
          t3 = f;
          const e3 = entries[(s3 << SHIFT) | ((vpn >> 18) & 511)]!;
          f = e3 >>> FRAME_SHIFT;
          if ((e3 & PRESENT_OR_PS) !== P || f >= frameLimit) break;
          const s2 = slotOfFrame[f]!;
          if (s2 <= 0) break;
          t2 = f;
          const e2 = entries[(s2 << SHIFT) | ((vpn >> 9) & 511)]!;
          f = e2 >>> FRAME_SHIFT;
          if ((e2 & PRESENT_OR_PS) === P) {
            if (f >= frameLimit) break;
            const s1 = slotOfFrame[f]!;
            if (s1 <= 0) break;
            t1 = f;
            upper = e4 & e3 & e2;
            psc[h] = root | tag;
            psc[h + 1] = key;
            psc[h + 2] = 0;
            psc[h + 3] = s1;
            psc[h + 4] = t3;
            psc[h + 5] = t2;
            psc[h + 6] = t1;
            psc[h + 7] = upper;
            leaf = entries[(s1 << SHIFT) | (vpn & 511)]!;
            f = leaf >>> FRAME_SHIFT;
            if ((leaf & P) === 0 || f >= frameLimit) break;
            pfn = f;
          } else if ((e2 & PRESENT_OR_PS) === PRESENT_OR_PS && (f & 511) === 0) {
            // A 2 MiB page, as a kernel's direct map uses.
            pfn = f + (vpn & 511);
            if (pfn >= frameLimit) break;
            leaf = e2;
            upper = e4 & e3;
            t1 = -1;
            size = SIZE_2M;
          } else break;
        }
        // Every level needs A, and RW for a write; the leaf D too for a write.
        const upperNeed = A | (isWrite * RW);
        const leafNeed = upperNeed | (isWrite * D);
        if ((((upper & upperNeed) ^ upperNeed) | ((leaf & leafNeed) ^ leafNeed)) !== 0) break;
        // A store into a page-table page is emulated: the MMU and the tracker's reference path take it.
        if (isWrite !== 0 && ((ptPageBits[pfn >>> 5]! >>> (pfn & 31)) & 1) !== 0) break;
        walks++;
        // The shadow walk, as processShadow settles it: from the vCPU's
        // top-level shadow, if it shadows the guest's root, through the
        // walk cache to the leaf shadow (for a 2 MiB mapping its FL1
        // shadow, whose entry is the page's offset in the mapping).
        let sl = -1;
        if (isWrite !== 0) {
          src[pfn] = src[pfn]! + 1;
          if (!shadowing) continue;
          const s = cr3Top[v]!;
          if (s >= 0 && pfnOf[s] === root) {
            const o = walkCacheRow(key, s);
            sl = cache[o] === key && cache[o + 1] === s && cache[o + 2] === generation ? cache[o + 3]! : walk.leaf4k(root, vpn, v);
            let entry = vpn;
            if (size !== 0) {
              if (sl >= 0 && pfnOf[sl] !== pfn - (pfn & 511)) sl = -1;
              entry = pfn;
            }
            if (sl >= 0 && (rwBits[sl * WORDS + ((entry & 511) >>> 5)]! & (1 << (entry & 31))) !== 0) continue;
          }
          walkPfns[0] = root;
          walkPfns[1] = t3;
          walkPfns[2] = t2;
          walkPfns[3] = t1;
          host.writeThrough(sl, pfn, WRITE | size, v, wall, i, 0, walkPfns);
        } else {
          if (!shadowing) continue;
          const s = cr3Top[v]!;
          if (s >= 0 && pfnOf[s] === root) {
            const o = walkCacheRow(key, s);
            sl = cache[o] === key && cache[o + 1] === s && cache[o + 2] === generation ? cache[o + 3]! : walk.leaf4k(root, vpn, v);
            if (sl >= 0 && (size === 0 || pfnOf[sl] === pfn - (pfn & 511))) continue;
          }
          walkPfns[0] = root;
          walkPfns[1] = t3;
          walkPfns[2] = t2;
          walkPfns[3] = t1;
          host.readThrough(pfn, size, v, wall, vpn, 0, walkPfns);
        }
      } else if (kind === KIND_PT_WRITE) {
        const page = pageCol[i]!;
        const index = argCol[i]!;
        if (!(page >= 0 && page < memPages) || index < 0 || index >= ENTRIES) throw mmu.badPtWrite(i, page, index);
        const live = liveMask[page]!;
        const pte = pteCol[i]!;
        if (live > 1) {
          mmu.ptWriteLinked(page, index, pte);
          tag = pscCache.tag;
          entries = tables.entries;
          nonzero = tables.nonzeroEntries;
        } else {
          // Mmu.ptWriteUnlinked, inlined as walkX86_64 has it: a page that is
          // no table yet or only a leaf table, whose entries link nothing.
          let slot = slotOfPfn[page]!;
          // Slot 0 reads as all zeros, so a page without storage compares as one.
          let offset = (slot << SHIFT) | index;
          const old = entries[offset]!;
          if (old !== pte) {
            if (slot === 0) {
              slot = tables.alloc(page);
              offset = (slot << SHIFT) | index;
              entries = tables.entries;
              nonzero = tables.nonzeroEntries;
            }
            if (live === 1) {
              // Leaf counts move by (new is a present leaf) - (old was one), per flag.
              const o = old & P;
              const q = pte & P;
              leafPresent1 += q - o;
              leafA1 += (q & (pte >>> A_BIT)) - (o & (old >>> A_BIT));
              leafD1 += (q & (pte >>> D_BIT)) - (o & (old >>> D_BIT));
              leafRw1 += (q & (pte >>> RW_BIT)) - (o & (old >>> RW_BIT));
              leafAdrw1 += ((pte & ADRW_P) === ADRW_P ? 1 : 0) - ((old & ADRW_P) === ADRW_P ? 1 : 0);
            }
            entries[offset] = pte;
            if ((nonzero[slot]! += (pte !== 0 ? 1 : 0) - (old !== 0 ? 1 : 0)) === 0 && live === 0) tables.free(slot);
          }
        }
        src[page] = src[page]! + 1;
        host.ptWrite(page, v, wall, i, live === 1);
      } else if (kind === KIND_IDLE) {
        // Only the clock moves (settled below).
        continue;
      } else if (kind === KIND_CR3_LOAD) {
        mmu.loadCr3(batch, i);
        tag = pscCache.tag;
        host.cr3Load(pageCol[i]!, v, wall);
      } else if (kind === KIND_PHYS_WRITE) {
        const page = pageCol[i]!;
        mmu.checkPfn(i, page, 'phys_write');
        src[page] = src[page]! + 1;
        if (!shadowing) continue;
        host.physWrite(page, v, wall);
      } else break;
      // A hook ran: it may have grown the pool or moved its generation.
      pfnOf = pool.pfnOf;
      rwBits = pool.rwBits;
      generation = pool.generation | 0;
    }
    // A walk the inlined path does not finish broke out with why still END: the caller runs it.
    if (i < n && why === EPT_RUN_END) why = EPT_RUN_EXIT;
  } finally {
    mmu.countWalks(walks);
    mmu.census.addLevel1Leaves(leafPresent1, leafA1, leafD1, leafRw1, leafAdrw1);
    clock.latestNs = latest;
    clock.settle(batch, tNs);
  }
  run.stop = why;
  return i;
}
