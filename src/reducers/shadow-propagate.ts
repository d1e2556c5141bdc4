import { PTE_FLAG_BITS, PTE_P } from '../model/pte.js';
import type { LogDirtyBitmap } from './logdirty-bitmap.js';
import { ROW_WORDS, type ShadowPool } from './shadow-pool.js';
import type { ShadowWalk } from './shadow-walk.js';

/**
 * Xen's sh_validate_guest_entry (xen/arch/x86/mm/shadow/multi.c) for a
 * guest write of `pte` into entry `index` of page `pfn`, as the shadow
 * tracker (tracker-shadow.ts) and its out-of-sync resyncs apply it: each
 * shadow of the page takes the new entry. Returns the number of shadows
 * updated. `dirty` is consulted only when `logDirty`.
 */
export function propagateGuestEntry(pool: ShadowPool, walk: ShadowWalk, logDirty: boolean, dirty: LogDirtyBitmap, pfn: number, index: number, pte: number): number {
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
      const target = (pte & PTE_P) !== 0 ? walk.framePfn(pte >>> PTE_FLAG_BITS) : -1;
      if (!logDirty || (target >= 0 && dirty.isDirty(target))) pool.rwBits[word] = pool.rwBits[word]! | bit;
      else pool.rwBits[word] = pool.rwBits[word]! & ~bit;
      updated++;
    } else if (level >= 2 && !(walk.pae && level === 3 && index >= 4)) {
      // The new target is referenced before the old one is released, so a
      // rewrite of the same entry frees nothing (shadow_set_l2e and kin).
      const child = walk.childShadow(pte, level);
      if (child >= 0) pool.link(s, index, child);
      else pool.unlink(s, index);
      updated++;
    }
    s = next >= 0 && pool.pfnOf[next] === pfn ? next : -1;
  }
  return updated;
}
