/**
 * The paging-structure cache in front of the MMU's 4-level walk: what the
 * processor's PML4E, PDPTE and PDE caches hold (Intel SDM vol. 3A, section
 * 4.10.3), exact here. A row remembers, for one root and one 2 MiB-aligned
 * range of virtual pages, the walk down to the leaf table: the tables it
 * went through and the AND of their entries' flags, so that a hit reads one
 * leaf entry instead of four.
 *
 * Unlike the processor's caches this one never holds a stale translation:
 * the hardware may use a cached entry after the guest changed it until the
 * guest flushes (SDM 4.10.4), which a simulator that honours every pt_write
 * at once cannot reproduce, so a store that could make a row wrong makes
 * every row stale instead (a new generation, see `invalidate`).
 *
 * Row layout, 1 << PSC_SHIFT ints from index h = row << PSC_SHIFT:
 *   h     the root pfn | the generation tag (one compare checks both)
 *   h + 1 the key, vpn >> 9
 *   h + 2 the gate stamp (ept-run.ts), 0 for none
 *   h + 3 the leaf table's slot in the table pool
 *   h + 4 the pfns of the level-3, level-2 and level-1 tables walked
 *   h + 7 the AND of the three upper entries (PML4E, PDPTE, PDE)
 * The walk loops (walkX86_64 in walk-x86-64.ts, and runUnderEpt in
 * ept-run.ts) read and fill rows inline, with these offsets as literals.
 */
import { PTE_FRAME_BITS } from '../model/pte.js';
import { zeroed } from '../util/array-pool.js';

/**
 * Rows, a power of two: 4,096 rows of 8 ints are 128 KiB, in the L2. Its
 * hits count for more than its fitting in the L1: apache's walks would hit
 * 85% of 1,024 rows (32 KiB) and 90% of 4,096 or more (direct-mapped,
 * before invalidations). In time, HAP gained about 1.5% over 1,024 rows (A/B
 * runs in both orders, the geometric mean: each order alone favoured its
 * first build by 4%).
 */
export const PSC_ENTRIES = 4096;
export const PSC_MASK = PSC_ENTRIES - 1;
/** A row is 1 << PSC_SHIFT ints. */
export const PSC_SHIFT = 3;
/**
 * A row's root pfn (below MAX_FRAMES, 24 bits) shares its int with the
 * generation, in the 8 bits above (bit 31 included: a tag is compared with
 * ===, never as a number, so a negative Int32 is as good as any).
 */
const PSC_GEN_SHIFT = PTE_FRAME_BITS;
const PSC_GENERATIONS = 2 ** (32 - PSC_GEN_SHIFT);

/**
 * A row is valid while it carries the current generation. A row depends on
 * three present upper entries and the slots of the tables they name, so a
 * store that changes or clears a present entry of a table above level 1, or
 * a hardware A/D store, starts a new generation. Filling an empty entry does
 * not (no cached walk went through it), nor does a table becoming live or
 * dead: a cached walk's tables stay live, and keep their slots, until one of
 * its entries is changed or cleared. (Apache: 4,392 generations in 60 s
 * instead of 15,476, 84% of walks hit instead of 82%.)
 *
 * The EPT loop (ept-run.ts) also keeps, in a row's stamp, the gate stamp
 * under which all four tables of its walk passed their EPT walk gates: gates
 * only open within an epoch, so a walk that passed once passes until the
 * epoch ends. A walk loop that fills a row clears its stamp.
 */
export class PagingStructureCache {
  readonly rows = zeroed(Int32Array, PSC_ENTRIES << PSC_SHIFT);
  /** The current generation (1 to PSC_GENERATIONS - 1), shifted to sit above a row's root (an Int32, negative from generation 128). */
  tag = 1 << PSC_GEN_SHIFT;
  /** Names the walk gates (their array, shift and epoch) last stamped under; 0 is no stamp. */
  private stamp = 0;
  private stampedWalkGate: Uint8Array | undefined;
  private stampedWalkShift = -1;
  private stampedEpoch = -1;

  /** Every row goes stale. */
  invalidate(): void {
    const generation = (this.tag >>> PSC_GEN_SHIFT) + 1;
    if (generation === PSC_GENERATIONS) {
      // Tags are about to repeat: no row may carry an old one.
      this.rows.fill(0);
      this.tag = 1 << PSC_GEN_SHIFT;
    } else this.tag = (generation << PSC_GEN_SHIFT) | 0;
  }

  /**
   * The stamp that names these walk gates: the same as last time while the
   * gates are the same array, shift and epoch, a new one otherwise (so no
   * row stamped under other gates passes for stamped under these).
   */
  gateStamp(walkGate: Uint8Array, walkShift: number, epoch: number): number {
    if (walkGate !== this.stampedWalkGate || walkShift !== this.stampedWalkShift || epoch !== this.stampedEpoch) {
      this.stamp++;
      this.stampedWalkGate = walkGate;
      this.stampedWalkShift = walkShift;
      this.stampedEpoch = epoch;
    }
    return this.stamp;
  }
}
