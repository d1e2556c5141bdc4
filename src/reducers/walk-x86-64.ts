/**
 * The MMU's loop over a range of events for a guest with x86-64 4-level
 * paging (Intel SDM vol. 3A, section 4.5), as Mmu.applyRange runs it: the
 * common cases inline, everything else handed to the MMU
 * (src/reducers/mmu.ts), which handles every case.
 *
 * Inline: the walk of a 4 KiB or 2 MiB mapping whose flags are already set
 * (A on every level, and RW and the leaf's D for a write), the steady state
 * in which a walk stores nothing, with the paging-structure cache in front of
 * the upper levels (paging-structure-cache.ts); and the pt_writes that link
 * no table, a quarter of all events, which through the MMU's methods took a
 * quarter to a third of its time. A flag to set, a 1 GiB page, a fault, a
 * vCPU with no CR3 yet leave the `fast` block for Mmu.walkGeneral; a store
 * into an upper-level table goes to Mmu.ptWriteLinked.
 *
 * The flag tests are branch-free in isWrite: a branch on it mispredicts on a
 * random mix of loads and stores and cost more than the walk's loads.
 *
 * The EPT loop (runUnderEpt, ept-run.ts) repeats this walk line for line,
 * for speed (measured there): a change to one is a change to both.
 */
import type { GuestBatch } from '../events/guest-batch.js';
import { GuestEventKind } from '../events/guest-event-kind.js';
import { PTE_A, PTE_D, PTE_FLAG_BITS, PTE_P, PTE_PS, PTE_RW } from '../model/pte.js';
import type { Mmu } from './mmu.js';
import { ACCESS_2M, ACCESS_LEAF_TABLE, ACCESS_PT_PAGE, ACCESS_WRITE, type MmuOutput } from './mmu-output.js';
import { TABLE_ENTRIES, TABLE_SHIFT } from './mmu-table-pool.js';
import { PSC_MASK, PSC_SHIFT } from './paging-structure-cache.js';
import { TOUCH_AHEAD_EVENTS, touchLeafBits, touchLeaves } from './touch-ahead.js';

// Module-local copies of imported constants for the loop: with Node 20,
// reading the imported bindings there measured 10-15% slower.
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
const WRITE = ACCESS_WRITE;
const PT_PAGE = ACCESS_PT_PAGE;
const LEAF_TABLE = ACCESS_LEAF_TABLE;
const SIZE_2M = ACCESS_2M;
const ROW_MASK = PSC_MASK;
const ROW_SHIFT = PSC_SHIFT;
const KIND_READ = GuestEventKind.read;
const KIND_PT_WRITE = GuestEventKind.ptWrite;
/** The look-ahead's column (touch-ahead.ts): one per thread, as the loop is. */
const scratch = new Int32Array(TOUCH_AHEAD_EVENTS);

/**
 * Events [from, n) of the batch; each event's results go to `out`, the
 * MMU's output over its whole buffers. Returns the walks it made.
 */
export function walkX86_64(mmu: Mmu, batch: GuestBatch, from: number, n: number, out: MmuOutput): number {
  const kindCol = batch.kind;
  const vcpuCol = batch.vcpu;
  const pageCol = batch.page;
  const dataPfn = out.dataPfn;
  const access = out.access;
  const walkPfns = out.walkPfns;
  const rootOfVcpu = mmu.rootOfVcpu;
  const ptPageBits = mmu.census.ptPageBits;
  const pool = mmu.pool;
  const slotOfPfn = pool.slotOfPfn;
  const slotOfFrame = pool.slotOfFrame;
  const frameLimit = mmu.frameLimit;
  const m2p = mmu.m2p;
  const argCol = batch.arg;
  const pteCol = batch.pte;
  const liveMask = mmu.census.liveMask;
  const memPages = mmu.memPages;
  const wideFrames = mmu.wideFrames;
  const pscCache = mmu.psc;
  const psc = pscCache.rows;
  // Re-read after anything that can start a new cache generation.
  let tag = pscCache.tag;
  let entries = pool.entries;
  let entryPfn = pool.entryPfn;
  let nonzero = pool.nonzeroEntries;
  let walks = 0;
  // Level-1 leaf count changes of the inlined pt_writes, added to the
  // counters once (also when an event throws): integers, so the sum is exact
  // in any order.
  let leafPresent1 = 0;
  let leafA1 = 0;
  let leafD1 = 0;
  let leafRw1 = 0;
  let leafAdrw1 = 0;
  // For large guests, events before `ahead` have had their leaf PTEs loaded,
  // and their pages' words of ptPageBits (touch-ahead.ts; a PV guest's frames
  // are not its pfns, and its pages' words are left to the loop).
  let ahead = mmu.lookAhead ? from : n;
  const bitsLimit = m2p === undefined ? frameLimit : 0;
  try {
    for (let i = from; i < n; i++) {
      if (i === ahead) {
        ahead = i + TOUCH_AHEAD_EVENTS < n ? i + TOUCH_AHEAD_EVENTS : n;
        touchLeafBits(scratch, touchLeaves(kindCol, vcpuCol, pageCol, i, ahead, rootOfVcpu, psc, tag, entries, scratch), bitsLimit, ptPageBits);
      }
      const kind = kindCol[i]!;
      // Only write (0) and read (1) walk.
      if (kind > KIND_READ) {
        if (kind === KIND_PT_WRITE) {
          if (wideFrames) {
            // Two-word entries (mmu.ts wideFrames): the MMU stores them.
            mmu.ptWriteEvent(batch, i);
            tag = pscCache.tag;
            entries = pool.entries;
            nonzero = pool.nonzeroEntries;
            continue;
          }
          const page = pageCol[i]!;
          const index = argCol[i]!;
          if (!(page >= 0 && page < memPages) || index < 0 || index >= ENTRIES) throw mmu.badPtWrite(i, page, index);
          const live = liveMask[page]!;
          dataPfn[i] = page;
          // A store into a page-table page as it was when the store happened:
          // that is what a tracker write-protecting table pages would trap.
          // (And whether it was a leaf table then, and only one: ACCESS_LEAF_TABLE.)
          access[i] = live === 0 ? WRITE : live === 1 ? WRITE | PT_PAGE | LEAF_TABLE : WRITE | PT_PAGE;
          const w = i << 2;
          walkPfns[w] = -1;
          walkPfns[w + 1] = -1;
          walkPfns[w + 2] = -1;
          walkPfns[w + 3] = -1;
          if (live > 1) {
            mmu.ptWriteLinked(page, index, pteCol[i]!);
            tag = pscCache.tag;
            entries = pool.entries;
            entryPfn = pool.entryPfn;
            nonzero = pool.nonzeroEntries;
            continue;
          }
          // The common pt_write, inlined: a page that is no table yet (being
          // filled) or only a leaf table, whose entries link nothing, so no
          // reference moves and at most the level-1 leaf counts change.
          const pte = pteCol[i]!;
          let slot = slotOfPfn[page]!;
          // Slot 0 reads as all zeros, so a page without storage compares as one.
          let offset = (slot << SHIFT) | index;
          const old = entries[offset]!;
          if (old === pte) continue;
          if (slot === 0) {
            slot = pool.alloc(page);
            offset = (slot << SHIFT) | index;
            entries = pool.entries;
            entryPfn = pool.entryPfn;
            nonzero = pool.nonzeroEntries;
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
          if (entryPfn !== undefined) {
            const f = pte >>> FRAME_SHIFT;
            entryPfn[offset] = f < frameLimit ? m2p![f]! : -1;
          }
          if ((nonzero[slot]! += (pte !== 0 ? 1 : 0) - (old !== 0 ? 1 : 0)) === 0 && live === 0) pool.free(slot);
          continue;
        }
        // Only a pt_write allocates storage, so the pool is as it was.
        mmu.applyOther(batch, i, kind);
        tag = pscCache.tag;
        continue;
      }
      walks++;
      // write is 0 and read 1: no branch, which would mispredict on a mix of both.
      const isWrite = kind ^ 1;
      fast: {
        const vpn = pageCol[i]!;
        const root = rootOfVcpu[vcpuCol[i]!]!;
        if (root < 0) break fast;
        let leaf: number;
        let upper: number;
        let pfn: number;
        let t3: number;
        let t2: number;
        let walk1: number;
        let leafSize: number;
        let f: number;
        // The paging-structure cache: a 4 KiB walk's upper levels, as
        // the processor's PDE cache keeps them (SDM 4.10.3), exact here.
        const key = vpn >> 9;
        const h = ((key ^ (root << 5)) & ROW_MASK) << ROW_SHIFT;
        if (psc[h] === (root | tag) && psc[h + 1] === key) {
          const o1 = (psc[h + 3]! << SHIFT) | (vpn & 511);
          leaf = entries[o1]!;
          f = leaf >>> FRAME_SHIFT;
          if ((leaf & P) === 0 || f >= frameLimit) break fast;
          pfn = entryPfn === undefined ? f : entryPfn[o1]!;
          t3 = psc[h + 4]!;
          t2 = psc[h + 5]!;
          walk1 = psc[h + 6]!;
          upper = psc[h + 7]!;
          leafSize = 0;
        } else {
          const o4 = (slotOfPfn[root]! << SHIFT) | ((vpn >> 27) & 511);
          const e4 = entries[o4]!;
          f = e4 >>> FRAME_SHIFT;
          if ((e4 & PRESENT_OR_PS) !== P || f >= frameLimit) break fast;
          // A slot <= 0 is a frame the guest does not own (-1) or a table that
          // holds no entries (0): both end in a fault that walkGeneral reports.
          const s3 = slotOfFrame[f]!;
          if (s3 <= 0) break fast;
          // Each table's pfn is taken from the entry that names it, like the
          // data page's, rather than from the slot's owner: one load fewer.
          t3 = entryPfn === undefined ? f : entryPfn[o4]!;
          const o3 = (s3 << SHIFT) | ((vpn >> 18) & 511);
          const e3 = entries[o3]!;
          f = e3 >>> FRAME_SHIFT;
          if ((e3 & PRESENT_OR_PS) !== P || f >= frameLimit) break fast;
          const s2 = slotOfFrame[f]!;
          if (s2 <= 0) break fast;
          t2 = entryPfn === undefined ? f : entryPfn[o3]!;
          const o2 = (s2 << SHIFT) | ((vpn >> 9) & 511);
          const e2 = entries[o2]!;
          f = e2 >>> FRAME_SHIFT;
          if ((e2 & PRESENT_OR_PS) === P) {
            if (f >= frameLimit) break fast;
            const s1 = slotOfFrame[f]!;
            if (s1 <= 0) break fast;
            walk1 = entryPfn === undefined ? f : entryPfn[o2]!;
            upper = e4 & e3 & e2;
            psc[h] = root | tag;
            psc[h + 1] = key;
            psc[h + 2] = 0;
            psc[h + 3] = s1;
            psc[h + 4] = t3;
            psc[h + 5] = t2;
            psc[h + 6] = walk1;
            psc[h + 7] = upper;
            const o1 = (s1 << SHIFT) | (vpn & 511);
            leaf = entries[o1]!;
            f = leaf >>> FRAME_SHIFT;
            if ((leaf & P) === 0 || f >= frameLimit) break fast;
            pfn = entryPfn === undefined ? f : entryPfn[o1]!;
            leafSize = 0;
          } else if ((e2 & PRESENT_OR_PS) === PRESENT_OR_PS && (f & 511) === 0) {
            // A 2 MiB page, as a kernel's direct map uses.
            f += vpn & 511;
            if (f >= frameLimit) break fast;
            pfn = m2p === undefined ? f : m2p[f]!;
            leaf = e2;
            upper = e4 & e3;
            walk1 = -1;
            leafSize = SIZE_2M;
          } else break fast;
        }
        if (pfn < 0) break fast;
        // Every level needs A, and RW for a write; the leaf D too for a write.
        const upperNeed = A | (isWrite * RW);
        const leafNeed = upperNeed | (isWrite * D);
        if ((((upper & upperNeed) ^ upperNeed) | ((leaf & leafNeed) ^ leafNeed)) !== 0) break fast;
        dataPfn[i] = pfn;
        access[i] = isWrite | leafSize | (((ptPageBits[pfn >>> 5]! >>> (pfn & 31)) & 1) << 1); // ACCESS_PT_PAGE
        const w = i << 2;
        walkPfns[w] = root;
        walkPfns[w + 1] = t3;
        walkPfns[w + 2] = t2;
        walkPfns[w + 3] = walk1;
        continue;
      }
      mmu.walkGeneral(batch, i, isWrite);
      tag = pscCache.tag;
    }
  } finally {
    mmu.census.addLevel1Leaves(leafPresent1, leafA1, leafD1, leafRw1, leafAdrw1);
  }
  return walks;
}
