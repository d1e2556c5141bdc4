/**
 * The MMU's loop over a range of events for a guest with PAE paging (Intel
 * SDM vol. 3A, section 4.4), as Mmu.applyRange runs it: the walk of a 4 KiB
 * or 2 MiB mapping whose flags are already set inline, everything else
 * handed to the MMU (src/reducers/mmu.ts), which handles every case.
 *
 * PAE's root holds four PDPTEs that the processor loads into registers on a
 * CR3 load (section 4.4.1): the walk itself does not use them as entries,
 * so it sets no A flag in them and their RW bit does not limit writes. Its
 * 32-bit addresses give a 20-bit vpn. There is no paging-structure cache in
 * front of this walk, and no pt_write inline: PAE guests are not the hot
 * path, and the EPT loop (ept-run.ts) runs 4-level guests only.
 */
import type { GuestBatch } from '../events/guest-batch.js';
import { GuestEventKind } from '../events/guest-event-kind.js';
import { PTE_A, PTE_D, PTE_FLAG_BITS, PTE_P, PTE_PS, PTE_RW } from '../model/pte.js';
import type { Mmu } from './mmu.js';
import { ACCESS_2M, type MmuOutput } from './mmu-output.js';
import { TABLE_SHIFT } from './mmu-table-pool.js';

// Module-local copies of imported constants for the loop: with Node 20,
// reading the imported bindings there measured 10-15% slower.
const P = PTE_P;
const A = PTE_A;
const D = PTE_D;
const RW = PTE_RW;
const PRESENT_OR_PS = PTE_P | PTE_PS;
const SHIFT = TABLE_SHIFT;
const FRAME_SHIFT = PTE_FLAG_BITS;
const SIZE_2M = ACCESS_2M;
const KIND_READ = GuestEventKind.read;
const KIND_PT_WRITE = GuestEventKind.ptWrite;
/** A PAE vpn: a 32-bit virtual address >> 12. */
const PAE_VPN_BITS = 20;

/**
 * Events [from, n) of the batch; each event's results go to `out`, the
 * MMU's output over its whole buffers. Returns the walks it made.
 */
export function walkPae(mmu: Mmu, batch: GuestBatch, from: number, n: number, out: MmuOutput): number {
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
  let entries = pool.entries;
  let entryPfn = pool.entryPfn;
  let walks = 0;
  for (let i = from; i < n; i++) {
    const kind = kindCol[i]!;
    // Only write (0) and read (1) walk.
    if (kind > KIND_READ) {
      if (kind === KIND_PT_WRITE) {
        // Not inlined as in walkX86_64: PAE guests are not the hot path.
        mmu.ptWriteEvent(batch, i);
        entries = pool.entries;
        entryPfn = pool.entryPfn;
        continue;
      }
      // Only a pt_write allocates storage, so the pool is as it was.
      mmu.applyOther(batch, i, kind);
      continue;
    }
    walks++;
    const isWrite = kind ^ 1;
    const vpn = pageCol[i]!;
    if (vpn >>> PAE_VPN_BITS !== 0) throw mmu.badVpn(i, vpn);
    fast: {
      const root = rootOfVcpu[vcpuCol[i]!]!;
      if (root < 0) break fast;
      // The PDPTE: no A flag to set and no RW to check (SDM 4.4.1).
      const o3 = (slotOfPfn[root]! << SHIFT) | (vpn >>> 18);
      const e3 = entries[o3]!;
      let f = e3 >>> FRAME_SHIFT;
      if ((e3 & PRESENT_OR_PS) !== P || f >= frameLimit) break fast;
      const s2 = slotOfFrame[f]!;
      if (s2 <= 0) break fast;
      const t2 = entryPfn === undefined ? f : entryPfn[o3]!;
      const o2 = (s2 << SHIFT) | ((vpn >>> 9) & 511);
      const e2 = entries[o2]!;
      f = e2 >>> FRAME_SHIFT;
      let leaf: number;
      let pfn: number;
      let walk1: number;
      let leafSize: number;
      if ((e2 & PRESENT_OR_PS) === P) {
        if (f >= frameLimit) break fast;
        const s1 = slotOfFrame[f]!;
        if (s1 <= 0) break fast;
        walk1 = entryPfn === undefined ? f : entryPfn[o2]!;
        const o1 = (s1 << SHIFT) | (vpn & 511);
        leaf = entries[o1]!;
        f = leaf >>> FRAME_SHIFT;
        if ((leaf & P) === 0 || f >= frameLimit) break fast;
        pfn = entryPfn === undefined ? f : entryPfn[o1]!;
        leafSize = 0;
      } else if ((e2 & PRESENT_OR_PS) === PRESENT_OR_PS && (f & 511) === 0) {
        f += vpn & 511;
        if (f >= frameLimit) break fast;
        pfn = m2p === undefined ? f : m2p[f]!;
        leaf = e2;
        walk1 = -1;
        leafSize = SIZE_2M;
      } else break fast;
      if (pfn < 0) break fast;
      // The PDE and the leaf need A (and RW for a write), the leaf D too for
      // a write; for a 2 MiB page the PDE is the leaf and is tested twice.
      const upperNeed = A | (isWrite * RW);
      const leafNeed = upperNeed | (isWrite * D);
      if ((((e2 & upperNeed) ^ upperNeed) | ((leaf & leafNeed) ^ leafNeed)) !== 0) break fast;
      dataPfn[i] = pfn;
      access[i] = isWrite | leafSize | (((ptPageBits[pfn >>> 5]! >>> (pfn & 31)) & 1) << 1); // ACCESS_PT_PAGE
      const w = i << 2;
      walkPfns[w] = root;
      walkPfns[w + 1] = t2;
      walkPfns[w + 2] = walk1;
      walkPfns[w + 3] = -1;
      continue;
    }
    mmu.walkGeneral(batch, i, isWrite);
  }
  return walks;
}
