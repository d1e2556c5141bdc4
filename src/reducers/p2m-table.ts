import type { P2mPageSize } from './tracker.js';
import { zeroed } from '../util/array-pool.js';

/** 4 KiB pages mapped by one EPT leaf table, or by one 2 MiB entry. */
export const PAGES_2M = 512;
/** 4 KiB pages mapped by one 1 GiB entry (512 leaf tables' worth). */
export const PAGES_1G = 512 * 512;
const SHIFT_2M = 9;
const SHIFT_1G = 18;
/**
 * The last epoch a byte holds. Epochs are compared for equality only (an
 * entry is writable, or its region recalculated, in the current epoch or
 * not), so when the count reaches it every entry is reset to 0, which is
 * older than anything, and counting starts again at 1 (retypeAll): the
 * gates stay one byte per page at any number of log-dirty operations.
 */
export const P2M_EPOCH_MAX = 0xff;

/** P2mTable.mapLevel: the 2 MiB region is a leaf table of 512 4 KiB entries. */
export const MAP_4K = 0;
/** P2mTable.mapLevel: the 2 MiB region is one 2 MiB superpage entry. */
export const MAP_2M = 1;
/** P2mTable.mapLevel: the 2 MiB region lies inside one 1 GiB superpage entry. */
export const MAP_1G = 2;

/**
 * The HVM guest's p2m (Intel EPT) as log-dirty sees it: which entry maps each
 * page, and each entry's log-dirty state. Shared by the hap and pml trackers.
 *
 * Follows Xen's xen/arch/x86/mm/p2m-ept.c:
 * - Turning all RAM log-dirty (hap_enable_log_dirty, hap_clean_dirty_bitmap
 *   and hap_disable_log_dirty all call p2m_change_entry_type_global) is
 *   lazy: ept_change_entry_type_global only invalidates the root's entries
 *   (an invalid memory type plus the `recalc` bit). The first access under
 *   such an entry takes an EPT misconfiguration exit and resolve_misconfig
 *   walks down, pushing the invalidation to the next level's entries, until
 *   it recomputes the type of every entry of the leaf table (or of the one
 *   superpage entry) the access used. Here the whole global change is one
 *   epoch counter: `retypeAll` bumps it, and a region whose `recalcEpoch` is
 *   older is still misconfigured.
 * - The type an entry gets (ept_p2m_type_to_flags) is p2m_ram_logdirty while
 *   log-dirty is on: read-only for HAP, writable with the EPT D bit clear for
 *   PML's 4 KiB entries, read-only again for PML's superpages. The first
 *   write changes it back to p2m_ram_rw (HAP's NPF handler) or sets D (PML);
 *   either way the page's `writableEpoch` becomes the current epoch, so one
 *   typed-array load answers "does this write need the hypervisor".
 * - A write into a log-dirty superpage splits it (ept_set_entry for order 0
 *   calls ept_split_super_page). Xen's split recurses inside its loop over
 *   the 512 new entries, so splitting a 1 GiB entry down to 4 KiB builds one
 *   table of 2 MiB entries AND splits every one of them: 513 new tables.
 *   Xen does not merge them back while log-dirty is on (nor after), so split
 *   entries stay split.
 *
 * State is kept per 2 MiB region (one leaf table's worth) and per 4 KiB page,
 * in typed arrays; a 1 GiB entry is the 512 regions it covers, all marked
 * MAP_1G and recalculated together.
 */
export class P2mTable {
  readonly memPages: number;
  /** 2 MiB regions, the last one possibly partial (always 4 KiB entries then). */
  readonly regions: number;
  /** Per 2 MiB region: MAP_4K, MAP_2M or MAP_1G. */
  readonly mapLevel: Uint8Array;
  /** Per 2 MiB region: the epoch its leaf table or superpage entry was last recalculated in. */
  readonly recalcEpoch: Uint8Array;
  /** Per 4 KiB page: the epoch in which its entry became writable (HAP: type back to ram_rw; PML: D set). */
  readonly writableEpoch: Uint8Array;
  /**
   * Global type changes so far, modulo P2M_EPOCH_MAX (from 1 again after
   * it). Epoch 0 is the state at boot: every entry ram_rw and nothing
   * pending, which the zero-filled arrays already say.
   */
  epoch = 0;
  /** Global type changes since boot, never reset: what names an epoch for a cache of gate checks (PagingStructureCache.gateStamp). */
  epochCount = 0;
  /** 4 KiB EPT tables allocated by splits since boot (hypervisor memory). */
  splitTables = 0;
  /** 2 MiB entries split into leaf tables, and 1 GiB entries split down to 4 KiB. */
  splits2m = 0;
  splits1g = 0;

  constructor(memPages: number, pageSize: P2mPageSize) {
    this.memPages = memPages;
    this.regions = Math.ceil(memPages / PAGES_2M);
    this.mapLevel = new Uint8Array(this.regions);
    this.recalcEpoch = new Uint8Array(this.regions);
    this.writableEpoch = zeroed(Uint8Array, memPages);
    // Xen backs a guest with the largest aligned pages it can; a tail that
    // is not a whole superpage is mapped with smaller ones.
    const whole2m = Math.floor(memPages / PAGES_2M);
    if (pageSize !== '4k') this.mapLevel.fill(MAP_2M, 0, whole2m);
    if (pageSize === '1g') this.mapLevel.fill(MAP_1G, 0, Math.floor(memPages / PAGES_1G) * PAGES_2M);
  }

  /** p2m_change_entry_type_global: every entry is misconfigured until recalculated. */
  retypeAll(): void {
    this.epochCount++;
    if (this.epoch < P2M_EPOCH_MAX) {
      this.epoch++;
      return;
    }
    // Every entry is older than the epoch to come, as the bump makes it:
    // 0 says so for every entry, and no gate holds 1.
    zeroWhereSet(this.writableEpoch);
    zeroWhereSet(this.recalcEpoch);
    this.epoch = 1;
  }

  /**
   * resolve_misconfig for the entry mapping `pfn`: recomputes its leaf table
   * or superpage entry as log-dirty (or, with log-dirty off, as ram_rw,
   * which makes every page it maps writable). Returns the pages it covers.
   */
  recalc(pfn: number, logDirty: boolean): number {
    const r = pfn >>> SHIFT_2M;
    const epoch = this.epoch;
    let first = r;
    let end = r + 1;
    if (this.mapLevel[r] === MAP_1G) {
      first = (pfn >>> SHIFT_1G) << (SHIFT_1G - SHIFT_2M);
      end = first + PAGES_2M;
    }
    this.recalcEpoch.fill(epoch, first, end);
    const firstPfn = first << SHIFT_2M;
    const endPfn = Math.min(end << SHIFT_2M, this.memPages);
    if (!logDirty) this.writableEpoch.fill(epoch, firstPfn, endPfn);
    return endPfn - firstPfn;
  }

  /**
   * ept_split_super_page down to 4 KiB for a write to `pfn` in a superpage:
   * returns the tables it allocated (1 for 2 MiB, 513 for 1 GiB). The new
   * entries inherit the superpage's (already recalculated) type.
   */
  split(pfn: number): number {
    const r = pfn >>> SHIFT_2M;
    const level = this.mapLevel[r]!;
    if (level === MAP_4K) return 0;
    if (level === MAP_2M) {
      this.mapLevel[r] = MAP_4K;
      this.splits2m++;
      this.splitTables += 1;
      return 1;
    }
    const first = (pfn >>> SHIFT_1G) << (SHIFT_1G - SHIFT_2M);
    this.mapLevel.fill(MAP_4K, first, first + PAGES_2M);
    this.splits1g++;
    this.splitTables += 1 + PAGES_2M;
    return 1 + PAGES_2M;
  }

  /**
   * KVM's split of the huge entry mapping `pfn`, one level at a time
   * (arch/x86/kvm/mmu/tdp_mmu.c tdp_mmu_split_huge_page, from
   * kvm_tdp_mmu_map on a fault or from the eager split of a range): a 1 GiB
   * entry becomes a table of 512 2 MiB entries, and the 2 MiB entry holding
   * `pfn` a table of 512 4 KiB ones; the other 2 MiB entries stay huge.
   * Returns the tables built (0, 1 or 2).
   */
  splitToward(pfn: number): number {
    const r = pfn >>> SHIFT_2M;
    let tables = 0;
    if (this.mapLevel[r] === MAP_1G) {
      const first = (pfn >>> SHIFT_1G) << (SHIFT_1G - SHIFT_2M);
      this.mapLevel.fill(MAP_2M, first, first + PAGES_2M);
      this.splits1g++;
      tables++;
    }
    if (this.mapLevel[r] === MAP_2M) {
      this.mapLevel[r] = MAP_4K;
      this.splits2m++;
      tables++;
    }
    this.splitTables += tables;
    return tables;
  }

  /** First pfn mapped by the entry that maps `pfn` (itself for a 4 KiB entry). */
  entryFirstPfn(pfn: number): number {
    const level = this.mapLevel[pfn >>> SHIFT_2M]!;
    if (level === MAP_4K) return pfn;
    const shift = level === MAP_2M ? SHIFT_2M : SHIFT_1G;
    return (pfn >>> shift) << shift;
  }

  /** Pages mapped by the entry that maps `pfn`: 1, 512 or 262,144. */
  entryPages(pfn: number): number {
    const level = this.mapLevel[pfn >>> SHIFT_2M]!;
    return level === MAP_4K ? 1 : level === MAP_2M ? PAGES_2M : PAGES_1G;
  }

  /** The entry mapping `pfn` became writable (its one D bit set, for a superpage): every page it maps. */
  setEntryWritable(pfn: number): void {
    const first = this.entryFirstPfn(pfn);
    this.writableEpoch.fill(this.epoch, first, first + this.entryPages(pfn));
  }

  /** Superpage entries now: 2 MiB ones, and 1 GiB ones. */
  superpages(): { entries2m: number; entries1g: number } {
    let e2 = 0;
    let e1 = 0;
    for (let r = 0; r < this.regions; r++) {
      const level = this.mapLevel[r]!;
      if (level === MAP_2M) e2++;
      else if (level === MAP_1G) e1++;
    }
    return { entries2m: e2, entries1g: e1 / PAGES_2M };
  }
}

/**
 * Zeroes a byte array, writing only the 4 KiB blocks that hold a nonzero
 * byte: blocks never written stay unbacked (a guest's untouched pages cost
 * no memory for their gates).
 */
function zeroWhereSet(a: Uint8Array): void {
  const BLOCK = 4096;
  for (let first = 0; first < a.length; first += BLOCK) {
    const end = Math.min(first + BLOCK, a.length);
    for (let i = first; i < end; i++) {
      if (a[i] !== 0) {
        a.fill(0, first, end);
        break;
      }
    }
  }
}
