import { makeP2mMap, type P2mMap } from '../model/p2m-map.js';
import { PTE_FLAG_BITS, PTE_FLAGS_MASK, PTE_P, PTE_SW } from '../model/pte.js';
import type { Mmu } from './mmu.js';

export interface CanonicaliseResult {
  /** Page-table pages translated. */
  readonly tables: number;
  /** Present entries translated. */
  readonly entries: number;
  /** Destination entries that do not resolve to the pfn the source entry did. */
  readonly mismatches: number;
}

/**
 * PV page-table canonicalisation across a migration (seeds 000, 001; Xen's
 * normalise_pagetable in tools/libs/guest/xg_sr_save_x86_pv.c and the
 * restore side's localise_pagetable): on save every present PTE's frame is
 * translated mfn -> pfn, flags kept and Xen's own software bit dropped; on
 * restore the destination's different p2m translates pfn -> mfn. The check
 * is the oracle's for PV: each destination entry must resolve, through the
 * destination's m2p, to the pfn the source entry resolved to.
 *
 * With `skip` the source entries are copied as they are (machine frames of
 * the wrong host), which the check must catch.
 */
export function canonicaliseAndCheck(mmu: Mmu, memPages: number, seed: number, skip = false): CanonicaliseResult {
  const src = mmu.p2m!;
  const dst: P2mMap = makeP2mMap(memPages, seed, 'p2m-destination');
  let tables = 0;
  let entries = 0;
  let mismatches = 0;
  mmu.forEachTable((_ptPfn, _level, e) => {
    tables++;
    for (let i = 0; i < e.length; i++) {
      const pte = e[i]!;
      if ((pte & PTE_P) === 0) continue;
      const frame = pte >>> PTE_FLAG_BITS;
      if (frame >= src.mfnToPfn.length || src.mfnToPfn[frame]! < 0) continue; // not guest memory: the MMU faults it anyway
      entries++;
      const mfn = pte >>> PTE_FLAG_BITS;
      const pfn = mfn < src.mfnToPfn.length ? src.mfnToPfn[mfn]! : -1;
      let restored: number;
      if (skip) restored = pte;
      else {
        const canonical = (pfn << PTE_FLAG_BITS) | (pte & PTE_FLAGS_MASK & ~PTE_SW);
        const p = canonical >>> PTE_FLAG_BITS;
        restored = ((p >= 0 && p < dst.pfnToMfn.length ? dst.pfnToMfn[p]! : 0) << PTE_FLAG_BITS) | (canonical & PTE_FLAGS_MASK);
      }
      const dmfn = restored >>> PTE_FLAG_BITS;
      const dpfn = dmfn < dst.mfnToPfn.length ? dst.mfnToPfn[dmfn]! : -1;
      if (dpfn !== pfn) mismatches++;
    }
  });
  return { tables, entries, mismatches };
}
