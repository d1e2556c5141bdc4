/**
 * Which guest pages are page tables, at which level, and what their leaf
 * entries carry: the MMU's census (DESIGN section 5), part of the summary.
 *
 * A page is a page-table page at a level while some root reaches it there.
 * Roots are pages loaded in some vCPU's CR3, and pages once loaded that
 * still hold a present entry (an address space that is switched out but
 * alive). Lower tables are reference counted by the present non-PS entries
 * of live tables one level up, per level, so a table shared by many roots
 * (the kernel's) counts once and a recursive mapping (a page used at several
 * levels) terminates: every link goes down a level. All counts are kept
 * incrementally on pt_write, cr3_load and the hardware's A/D stores; nothing
 * is rescanned.
 *
 * What counts as a leaf follows the Intel SDM vol. 3A: every present level-1
 * entry, and a present PS entry at level 2, or at level 3 with 4-level
 * paging (section 4.5; PS is reserved in a PML4E, and PAE's PDPTEs have no
 * PS, section 4.4.1). Of PAE's root, only the four PDPTEs count. For a Xen
 * PV guest the frames in entries are mfns, translated back through the m2p
 * to name the tables they link.
 *
 * Memory: the per-page arrays are the two the walk loops and every pt_write
 * read (liveMask, a byte, and ptPageBits, a bit); CR3 load counts, a root's
 * present entries and the reference counts are paged arrays
 * (src/util/paged-int32.ts), allocated in chunks where some page has them
 * (page tables and roots are a small share of a guest's pages), where an
 * array per level cost 18 bytes per guest page. (Maps cost the MMU 20% of
 * its time on apache, whose CR3 loads are a tenth of its events.)
 */
import { PTE_A, PTE_D, PTE_P, PTE_PS, PTE_RW, pteFrame } from '../model/pte.js';
import { PagedInt32 } from '../util/paged-int32.js';
import { TABLE_ENTRIES, TABLE_SHIFT, type TablePool } from './mmu-table-pool.js';
import { zeroed } from '../util/array-pool.js';

export interface MmuLevelStats {
  /** 1 = the leaf table (PT), 2 = PD, 3 = PDPT, 4 = PML4. */
  readonly level: number;
  /** Pages live as page tables at this level. */
  readonly ptPages: number;
  /** Present entries at this level that map memory: every level-1 entry, PS entries at levels 2 and 3. */
  readonly presentLeafEntries: number;
  readonly leafEntriesAccessed: number;
  readonly leafEntriesDirty: number;
  readonly leafEntriesWritable: number;
  /** Leaf entries with A, D and RW all set. */
  readonly leafEntriesAccessedDirtyWritable: number;
}

/** The census part of MmuStats. */
export interface PtCensusStats {
  /** Index 0 = level 1; length 4 (x86-64) or 3 (PAE). */
  readonly levels: readonly MmuLevelStats[];
  /** Distinct live page-table pages (a page used at two levels counts once). */
  readonly ptPages: number;
  /** Entry slots of the live leaf tables: level-1 pages x 512. */
  readonly leafSlots: number;
  /** Totals of the per-level leaf counts. */
  readonly presentLeafEntries: number;
  readonly leafEntriesAccessed: number;
  readonly leafEntriesDirty: number;
  readonly leafEntriesWritable: number;
  readonly leafEntriesAccessedDirtyWritable: number;
}

const P = PTE_P;
const PRESENT_OR_PS = PTE_P | PTE_PS;
const ADRW = PTE_A | PTE_D | PTE_RW;
const ADRW_P = ADRW | PTE_P;
const A_BIT = 31 - Math.clz32(PTE_A);
const D_BIT = 31 - Math.clz32(PTE_D);
const RW_BIT = 31 - Math.clz32(PTE_RW);

export class PtCensus {
  /** Bit (level - 1) set while the page is a live table at that level. */
  readonly liveMask: Uint8Array;
  /** One bit per page, set while liveMask is nonzero: 32x smaller, so the walk loops' test stays in L1. */
  readonly ptPageBits: Uint32Array;
  private readonly topLevel: number;
  private readonly pae: boolean;
  /** Entries a root table uses: 512, or the 4 PDPTEs of PAE. */
  private readonly rootEntries: number;
  /** vCPUs that have each page in CR3. */
  private readonly loadedCount: PagedInt32;
  /** Present entries among a live root's rootEntries. */
  private readonly presentRootEntries: PagedInt32;
  /** refs[level].get(pfn): present non-PS entries of live tables at level + 1 naming pfn. Unused at the top level. */
  private readonly refs: PagedInt32[];

  // Per-level counters, indexed by level (index 0 unused). Float64 so no count can wrap.
  private readonly ptPagesAt: Float64Array;
  private readonly leafPresentAt: Float64Array;
  private readonly leafAAt: Float64Array;
  private readonly leafDAt: Float64Array;
  private readonly leafRwAt: Float64Array;
  private readonly leafAdrwAt: Float64Array;
  private distinctPtPages = 0;

  // Pending reference changes of one store: all increments run before all
  // decrements, so a cascade only ever activates, then only ever deactivates,
  // and never sees a table half updated.
  private readonly pendingIncPfn = new Int32Array(4);
  private readonly pendingIncLevel = new Int32Array(4);
  private readonly pendingDecPfn = new Int32Array(4);
  private readonly pendingDecLevel = new Int32Array(4);

  /**
   * `pool` holds the tables' entries (the census releases a page's storage
   * once it is neither a table nor holds an entry); frames below
   * `frameLimit` are the guest's, translated by `m2p` for a PV guest.
   */
  constructor(
    private readonly pool: TablePool,
    pae: boolean,
    memPages: number,
    private readonly frameLimit: number,
    private readonly m2p: Int32Array | undefined,
  ) {
    this.pae = pae;
    this.topLevel = pae ? 3 : 4;
    this.rootEntries = pae ? 4 : TABLE_ENTRIES;
    this.liveMask = zeroed(Uint8Array, memPages);
    this.ptPageBits = zeroed(Uint32Array, (memPages + 31) >>> 5);
    this.loadedCount = new PagedInt32(memPages);
    this.presentRootEntries = new PagedInt32(memPages);
    this.refs = [];
    for (let level = 0; level <= this.topLevel; level++) this.refs.push(new PagedInt32(level >= 1 && level < this.topLevel ? memPages : 0));
    const perLevel = () => new Float64Array(this.topLevel + 1);
    this.ptPagesAt = perLevel();
    this.leafPresentAt = perLevel();
    this.leafAAt = perLevel();
    this.leafDAt = perLevel();
    this.leafRwAt = perLevel();
    this.leafAdrwAt = perLevel();
  }

  /** A vCPU's CR3 goes from `old` (-1: none) to `root`: a root is live while loaded, or while it holds a present entry. */
  switchRoot(old: number, root: number): void {
    this.loadedCount.add(root, 1);
    const top = this.topLevel;
    if ((this.liveMask[root]! & (1 << (top - 1))) === 0) this.activate(root, top);
    if (old >= 0 && this.loadedCount.add(old, -1) === 0 && this.presentRootEntries.get(old) === 0) {
      this.deactivate(old, top);
      this.releaseIfEmpty(old);
    }
  }

  /**
   * Entry `index` of `pfn`, a table live above level 1, went from `old` to
   * `pte` (already stored): its leaf counts move at each level the page is
   * live at, and so do the references to the tables the two entries name.
   */
  linkedEntryChanged(pfn: number, index: number, old: number, pte: number): void {
    const live = this.liveMask[pfn]!;
    const topBit = 1 << (this.topLevel - 1);
    let incs = 0;
    let decs = 0;
    for (let level = 1, mask = live; mask !== 0; level++, mask >>>= 1) {
      if ((mask & 1) === 0 || !this.entryCounts(level, index)) continue;
      if (this.isLeaf(old, level)) this.countLeaf(old, level, -1);
      if (this.isLeaf(pte, level)) this.countLeaf(pte, level, 1);
      const oldChild = this.childTable(old, level);
      const newChild = this.childTable(pte, level);
      if (oldChild !== newChild) {
        if (newChild >= 0) {
          this.pendingIncPfn[incs] = newChild;
          this.pendingIncLevel[incs++] = level - 1;
        }
        if (oldChild >= 0) {
          this.pendingDecPfn[decs] = oldChild;
          this.pendingDecLevel[decs++] = level - 1;
        }
      }
      if (level === this.topLevel) this.presentRootEntries.add(pfn, (pte & PTE_P) - (old & PTE_P));
    }
    for (let k = 0; k < incs; k++) this.incRef(this.pendingIncPfn[k]!, this.pendingIncLevel[k]!);
    for (let k = 0; k < decs; k++) this.decRef(this.pendingDecPfn[k]!, this.pendingDecLevel[k]!);
    // A root that is in no CR3 lives while it holds a present entry.
    if ((this.liveMask[pfn]! & topBit) !== 0 && this.presentRootEntries.get(pfn) === 0 && this.loadedCount.get(pfn) === 0) {
      this.deactivate(pfn, this.topLevel);
    }
    this.releaseIfEmpty(pfn);
  }

  /**
   * The hardware set A or D in entry `index` of table page `pfn` (`pte`
   * became `updated`): only the flags changed, so the entry stays a leaf or a
   * pointer as it was, and only the leaf flag counts move.
   */
  flagsStored(pfn: number, index: number, pte: number, updated: number): void {
    let mask = this.liveMask[pfn]!;
    for (let level = 1; mask !== 0; level++, mask >>>= 1) {
      if ((mask & 1) === 0 || !this.entryCounts(level, index) || !this.isLeaf(pte, level)) continue;
      this.countLeaf(pte, level, -1);
      this.countLeaf(updated, level, 1);
    }
  }

  /**
   * Adds `sign` (1 or -1) to the leaf counts of `level` for a present leaf
   * entry (branch-free: flags are data). A flag's term is `sign & -bit`,
   * not `sign * bit`: -1 * 0 is -0, which is no integer to V8, and the
   * first removal of an entry without the flag deoptimised this and the
   * walk loops it is inlined into (runUnderEpt: "minus zero", once per
   * thread, a recompile of the loop each time). Same sums: x + -0 is x.
   */
  countLeaf(pte: number, level: number, sign: number): void {
    this.leafPresentAt[level]! += sign;
    this.leafAAt[level]! += sign & -((pte >>> A_BIT) & 1);
    this.leafDAt[level]! += sign & -((pte >>> D_BIT) & 1);
    this.leafRwAt[level]! += sign & -((pte >>> RW_BIT) & 1);
    this.leafAdrwAt[level]! += (pte & ADRW) === ADRW ? sign : 0;
  }

  /** Changes to the level-1 leaf counts a walk loop summed over its stores into leaf tables (integers, so exact in any order). */
  addLevel1Leaves(present: number, a: number, d: number, rw: number, adrw: number): void {
    this.leafPresentAt[1]! += present;
    this.leafAAt[1]! += a;
    this.leafDAt[1]! += d;
    this.leafRwAt[1]! += rw;
    this.leafAdrwAt[1]! += adrw;
  }

  /**
   * The level (1 = leaf table) at which ptPfn is a live page table, 0 if it
   * is none. A page live at several levels (a recursive mapping) gives the
   * highest.
   */
  tableLevel(ptPfn: number): number {
    return 32 - Math.clz32(this.liveMask[ptPfn]!);
  }

  stats(): PtCensusStats {
    const levels: MmuLevelStats[] = [];
    let present = 0;
    let a = 0;
    let d = 0;
    let rw = 0;
    let adrw = 0;
    for (let level = 1; level <= this.topLevel; level++) {
      levels.push({
        level,
        ptPages: this.ptPagesAt[level]!,
        presentLeafEntries: this.leafPresentAt[level]!,
        leafEntriesAccessed: this.leafAAt[level]!,
        leafEntriesDirty: this.leafDAt[level]!,
        leafEntriesWritable: this.leafRwAt[level]!,
        leafEntriesAccessedDirtyWritable: this.leafAdrwAt[level]!,
      });
      present += this.leafPresentAt[level]!;
      a += this.leafAAt[level]!;
      d += this.leafDAt[level]!;
      rw += this.leafRwAt[level]!;
      adrw += this.leafAdrwAt[level]!;
    }
    return {
      levels,
      ptPages: this.distinctPtPages,
      leafSlots: this.ptPagesAt[1]! * TABLE_ENTRIES,
      presentLeafEntries: present,
      leafEntriesAccessed: a,
      leafEntriesDirty: d,
      leafEntriesWritable: rw,
      leafEntriesAccessedDirtyWritable: adrw,
    };
  }

  /** Storage is kept while a page is a table or holds a nonzero entry (a table being filled). */
  private releaseIfEmpty(pfn: number): void {
    const slot = this.pool.slotOfPfn[pfn]!;
    if (slot !== 0 && this.liveMask[pfn] === 0 && this.pool.nonzeroEntries[slot] === 0) this.pool.free(slot);
  }

  /** A PS entry maps memory at level 2, and at level 3 with 4-level paging only. */
  leafCapable(level: number): boolean {
    return level === 2 || (level === 3 && !this.pae);
  }

  private incRef(pfn: number, level: number): void {
    if (this.refs[level]!.add(pfn, 1) === 1) this.activate(pfn, level);
  }

  private decRef(pfn: number, level: number): void {
    if (this.refs[level]!.add(pfn, -1) === 0) this.deactivate(pfn, level);
  }

  /** pfn becomes a table at `level`: count its entries there and make its children live. */
  private activate(pfn: number, level: number): void {
    const mask = this.liveMask[pfn]!;
    this.liveMask[pfn] = mask | (1 << (level - 1));
    if (mask === 0) {
      this.distinctPtPages++;
      this.ptPageBits[pfn >>> 5]! |= 1 << (pfn & 31);
    }
    this.ptPagesAt[level]!++;
    const slot = this.pool.slotOfPfn[pfn]!;
    if (level === 1) {
      if (slot !== 0) this.countLeafTable(slot, 1);
      return;
    }
    let present = 0;
    if (slot !== 0) {
      const entries = this.pool.entries;
      const base = slot << TABLE_SHIFT;
      const n = level === this.topLevel ? this.rootEntries : TABLE_ENTRIES;
      for (let k = 0; k < n; k++) {
        if ((entries[base + k]! & PTE_P) === 0) continue;
        const pte = this.pool.entryValue(base + k);
        present++;
        if (this.isLeaf(pte, level)) this.countLeaf(pte, level, 1);
        else {
          const child = this.childTable(pte, level);
          if (child >= 0) this.incRef(child, level - 1);
        }
      }
    }
    if (level === this.topLevel) this.presentRootEntries.set(pfn, present);
  }

  /** pfn stops being a table at `level`: uncount its entries there and release its children. */
  private deactivate(pfn: number, level: number): void {
    const mask = this.liveMask[pfn]! & ~(1 << (level - 1));
    this.liveMask[pfn] = mask;
    if (mask === 0) {
      this.distinctPtPages--;
      this.ptPageBits[pfn >>> 5]! &= ~(1 << (pfn & 31));
    }
    this.ptPagesAt[level]!--;
    const slot = this.pool.slotOfPfn[pfn]!;
    if (level === 1) {
      if (slot !== 0) this.countLeafTable(slot, -1);
    } else if (slot !== 0) {
      const entries = this.pool.entries;
      const base = slot << TABLE_SHIFT;
      const n = level === this.topLevel ? this.rootEntries : TABLE_ENTRIES;
      for (let k = 0; k < n; k++) {
        if ((entries[base + k]! & PTE_P) === 0) continue;
        const pte = this.pool.entryValue(base + k);
        if (this.isLeaf(pte, level)) this.countLeaf(pte, level, -1);
        else {
          const child = this.childTable(pte, level);
          if (child >= 0) this.decRef(child, level - 1);
        }
      }
    }
    if (level === this.topLevel) this.presentRootEntries.set(pfn, 0);
    this.releaseIfEmpty(pfn);
  }

  /**
   * Adds `sign` times the leaf counts of a level-1 table's entries, where
   * every present entry is a leaf and none links a table. Leaf tables become
   * live and dead by the thousand (3,591 activations in 60 s of the apache
   * workload), and a loop calling countLeaf per entry took up to a quarter
   * of the MMU's time; this one stops after the slot's last nonzero entry.
   */
  private countLeafTable(slot: number, sign: number): void {
    const entries = this.pool.entries;
    const end = (slot + 1) << TABLE_SHIFT;
    let left = this.pool.nonzeroEntries[slot]!;
    let present = 0;
    let a = 0;
    let d = 0;
    let rw = 0;
    let adrw = 0;
    for (let k = slot << TABLE_SHIFT; left > 0 && k < end; k++) {
      const pte = entries[k]!;
      if (pte === 0) continue;
      left--;
      const p = pte & P;
      present += p;
      a += p & (pte >>> A_BIT);
      d += p & (pte >>> D_BIT);
      rw += p & (pte >>> RW_BIT);
      adrw += (pte & ADRW_P) === ADRW_P ? 1 : 0;
    }
    // Added or subtracted, not multiplied by sign: -1 * 0 is -0, which sent
    // V8 back to the interpreter.
    if (sign > 0) {
      this.leafPresentAt[1]! += present;
      this.leafAAt[1]! += a;
      this.leafDAt[1]! += d;
      this.leafRwAt[1]! += rw;
      this.leafAdrwAt[1]! += adrw;
    } else {
      this.leafPresentAt[1]! -= present;
      this.leafAAt[1]! -= a;
      this.leafDAt[1]! -= d;
      this.leafRwAt[1]! -= rw;
      this.leafAdrwAt[1]! -= adrw;
    }
  }

  /** Whether entry `index` of a table at `level` is used at all: a PAE root uses only its 4 PDPTEs. */
  private entryCounts(level: number, index: number): boolean {
    return level !== this.topLevel || index < this.rootEntries;
  }

  /** A present entry that maps memory at `level`: any level-1 entry, a PS entry where PS is defined. */
  private isLeaf(pte: number, level: number): boolean {
    if ((pte & PTE_P) === 0) return false;
    return level === 1 || ((pte & PTE_PS) !== 0 && this.leafCapable(level));
  }

  /** The pfn of the table a present non-PS entry at `level` (one number: pteValue) names, or -1. */
  private childTable(pte: number, level: number): number {
    if ((pte & PRESENT_OR_PS) !== PTE_P || level === 1) return -1;
    const frame = pteFrame(pte);
    if (frame >= this.frameLimit) return -1;
    return this.m2p === undefined ? frame : this.m2p[frame]!;
  }
}

