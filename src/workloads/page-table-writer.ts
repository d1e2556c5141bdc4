import type { GuestBatchBuilder } from '../events/guest-batch-builder.js';
import { NARROW_FRAMES, PTE_A, PTE_D, PTE_FLAG_BITS, PTE_HIGH_SHIFT, PTE_P, PTE_PS, PTE_RW, PTE_US, pteClearFlags, pteSetFlags, pteValue } from '../model/pte.js';
import { FrameKind, type GuestFrames } from './guest-frames.js';
import type { GuestLayout } from './guest-layout.js';
import { KERNEL_COSTS_NS, type KernelWork } from './kernel-costs.js';
import type { KernelCounters } from './kernel-counters.js';
import { zeroed } from '../util/array-pool.js';

/** An entry pointing at a kernel table (_KERNPG_TABLE). */
export const FLAGS_KERNEL_TABLE = PTE_P | PTE_RW | PTE_A | PTE_D;
/** An entry pointing at a user table (_PAGE_TABLE). */
const FLAGS_USER_TABLE = PTE_P | PTE_RW | PTE_US | PTE_A | PTE_D;
/** 2^32: the weight of an entry's high word (src/model/pte.ts). */
const WORD = 2 ** 32;
/** A PAE page-directory-pointer entry has only P (its RW, US, A bits are reserved). */
export const FLAGS_PAE_PDPTE = PTE_P;

/** Page-table pages per level and leaf entries with A, D and RW, from the kernel's copy. */
export interface TableCensus {
  /** Index 0 = L1 (leaf) tables. */
  readonly tablesPerLevel: number[];
  readonly leafSlots: number;
  readonly leafPresent: number;
  readonly leafAccessedDirtyWritable: number;
}

/**
 * Every page-table page of the guest, and the only code that stores into
 * one: each store is a pt_write event, because the hardware MMU reducer
 * rebuilds the tables from those events alone (DESIGN sections 1 and 5).
 * The writer keeps its own copy of what it wrote, plus the A and D bits the
 * hardware sets on the accesses the kernel emitted, which it reads back when
 * it rewrites an entry, as Linux's read-modify-write helpers do.
 *
 * What it follows:
 * - Table pages come from lowmem and are linked top down as a walk needs
 *   them (Linux's __pte_alloc, __pmd_alloc, __pud_alloc).
 * - PV only: a page-table page must have no writable mapping (Xen refuses
 *   to validate it otherwise), so the writer clears RW in the page's
 *   direct-map entry when it becomes a table and restores it when the table
 *   is freed (Linux's make_lowmem_page_readonly / make_lowmem_page_writable).
 * - Every table is empty when it is freed: zap_pte_range clears the leaves,
 *   free_pgtables clears each upper entry before the page below it goes, so
 *   a page that becomes a table again starts empty in the MMU's copy too.
 *   Linux zeroes a new table page with a memset instead; in this event model
 *   only pt_writes change what the MMU sees in a table.
 *
 * Layout: slot s holds entries [s*512, s*512+512). `link` holds, per entry,
 * the child table's slot (upper levels) or the mapped pfn (leaves), -1 when
 * empty. `entries`, `link` and the per-slot arrays are replaced when they
 * grow, so callers read them from the writer each time, never keep them.
 */
export class PageTableWriter {
  readonly levels: number;
  entries: Int32Array;
  link: Int32Array;
  slotPfn: Int32Array;
  private slotLevel: Uint8Array;
  slotPresent: Int32Array;
  private freeSlots: number[] = [];
  private slotCount = 0;
  /**
   * The leaf tables of the kernel's direct map, one per 512 lowmem frames,
   * -1 until boot builds them: where a PV table page's alias turns read-only.
   */
  readonly directL1Slot: Int32Array;
  // The frames' fixed-size arrays, held here because every store reads them.
  private readonly frameOfPfn: Int32Array | undefined;
  /** Guests over 2^24 frames only: each entry's high word (frame bits 24 and up), beside `entries`. */
  private high: Uint8Array | undefined;

  constructor(
    private readonly layout: GuestLayout,
    private readonly pv: boolean,
    private readonly frames: GuestFrames,
    private readonly out: GuestBatchBuilder,
    private readonly work: KernelWork,
    private readonly counters: KernelCounters,
  ) {
    this.levels = layout.levels;
    const slots = 1024;
    this.entries = zeroed(Int32Array, slots << 9);
    this.link = zeroed(Int32Array, slots << 9);
    this.slotPfn = new Int32Array(slots);
    this.slotLevel = new Uint8Array(slots);
    this.slotPresent = new Int32Array(slots);
    this.directL1Slot = new Int32Array(Math.ceil(frames.directMapPages / 512)).fill(-1);
    this.frameOfPfn = frames.frameOfPfn;
    this.high = frames.memPages > NARROW_FRAMES ? new Uint8Array(slots << 9) : undefined;
  }

  /** Entry i as one number (src/model/pte.ts pteValue): with its high word, for a guest over 64 GiB. */
  entryValue(i: number): number {
    return this.high === undefined ? this.entries[i] : pteValue(this.entries[i], this.high[i]);
  }

  /**
   * A PTE mapping `pfn` with `flags`: the frame field holds its mfn (PV) or
   * the pfn itself (HVM). One number (src/model/pte.ts makePte): the Int32
   * the tables hold, or for a frame of 2^23 and above frame * 256 + flags.
   */
  pte(pfn: number, flags: number): number {
    const frame = this.frameOfPfn === undefined ? pfn : this.frameOfPfn[pfn]!;
    return frame < 0x80_0000 ? (frame << PTE_FLAG_BITS) | flags : frame * 256 + flags;
  }

  /** Stores entry `idx` of table `slot`: the one place a pt_write is emitted. */
  setEntry(slot: number, idx: number, pte: number, linkValue: number, vcpu: number, tNs: number): void {
    const i = (slot << 9) | idx;
    const was = this.entries[i] & PTE_P;
    const now = pte & PTE_P;
    if (was !== now) this.slotPresent[slot] += now !== 0 ? 1 : -1;
    // The tables keep the entry's Int32; its high word (frames of 2^24 and
    // above, HVM guests over 64 GiB) goes in the event's arg, above the index.
    this.entries[i] = pte;
    if (this.high !== undefined) this.high[i] = pte < WORD ? 0 : Math.floor(pte / WORD);
    this.link[i] = now !== 0 ? linkValue : -1;
    const pfn = this.slotPfn[slot];
    this.out.ptWrite(tNs, vcpu, pfn, pte < WORD ? idx : idx | (Math.floor(pte / WORD) << PTE_HIGH_SHIFT), pte | 0);
    this.frames.markWritten(pfn);
    this.work.ns += KERNEL_COSTS_NS.ptWrite;
    this.counters.ptWrites++;
  }

  clearEntry(slot: number, idx: number, vcpu: number, tNs: number): void {
    this.setEntry(slot, idx, 0, -1, vcpu, tNs);
  }

  /** Clears a present leaf entry of a process and drops its frame's mapping. */
  clearLeaf(slot: number, idx: number, vcpu: number, tNs: number): void {
    const pfn = this.link[(slot << 9) | idx];
    this.clearEntry(slot, idx, vcpu, tNs);
    this.frames.releaseFrame(pfn);
  }

  /** A new, empty table page at `level`. PV: its direct-map alias turns read-only. */
  allocTable(level: number, vcpu: number, tNs: number): number {
    const pfn = this.frames.allocLow(FrameKind.table);
    let slot = this.freeSlots.pop();
    if (slot === undefined) {
      slot = this.slotCount++;
      if (slot >= this.slotPfn.length) this.growSlots();
    }
    this.slotPfn[slot] = pfn;
    this.slotLevel[slot] = level;
    this.slotPresent[slot] = 0;
    this.entries.fill(0, slot << 9, (slot + 1) << 9);
    this.link.fill(-1, slot << 9, (slot + 1) << 9);
    if (this.pv) this.setDirectMapWritable(pfn, false, vcpu, tNs);
    this.counters.tablesAllocated++;
    return slot;
  }

  /** Frees an empty table page (all its entries already cleared). */
  freeTable(slot: number, vcpu: number, tNs: number): void {
    if (this.slotPresent[slot] !== 0) throw new Error(`guest kernel bug: freeing a table with ${this.slotPresent[slot]} present entries`);
    const pfn = this.slotPfn[slot];
    this.slotLevel[slot] = 0;
    this.freeSlots.push(slot);
    this.frames.frameKind[pfn] = FrameKind.kernel; // so freeFrame accepts it
    if (this.pv) this.setDirectMapWritable(pfn, true, vcpu, tNs);
    this.frames.freeFrame(pfn);
    this.counters.tablesFreed++;
  }

  private setDirectMapWritable(pfn: number, writable: boolean, vcpu: number, tNs: number): void {
    if (pfn >= this.frames.directMapPages) return;
    const l1 = this.directL1Slot[pfn >> 9];
    if (l1 < 0) return; // the direct map is not built yet: it will map the page read-only
    const i = (l1 << 9) | (pfn & 511);
    const pte = this.entries[i];
    if ((pte & PTE_P) === 0) return;
    this.setEntry(l1, pfn & 511, writable ? pteSetFlags(pte, PTE_RW) : pteClearFlags(pte, PTE_RW), pfn, vcpu, tNs);
  }

  /**
   * Doubles the slot arrays. Only the old contents are copied: a slot is
   * read only after allocTable has cleared its entries and links, so the
   * new part is left as the allocation gives it (zeros, never touched
   * until used). Filling it too wrote every new page of memory once more:
   * with the growth itself, about 0.9 s of CPU to reach 32,768 slots (two
   * 64 MiB arrays), a cost per MB of capture that rose with an import's size.
   */
  private growSlots(): void {
    const n = this.slotPfn.length * 2;
    const grow32 = (a: Int32Array, len: number): Int32Array => {
      const b = new Int32Array(len);
      b.set(a);
      return b;
    };
    this.entries = grow32(this.entries, n << 9);
    if (this.high !== undefined) {
      const high = new Uint8Array(n << 9);
      high.set(this.high);
      this.high = high;
    }
    this.link = grow32(this.link, n << 9);
    this.slotPfn = grow32(this.slotPfn, n);
    this.slotPresent = grow32(this.slotPresent, n);
    const lv = new Uint8Array(n);
    lv.set(this.slotLevel);
    this.slotLevel = lv;
  }

  /** The leaf table that maps `vpn`, or -1. */
  findLeafTable(rootSlot: number, vpn: number): number {
    let s = rootSlot;
    for (let shift = this.layout.rootShift; shift > 0; shift -= 9) {
      s = this.link[(s << 9) | ((vpn >> shift) & 511)];
      if (s < 0) return -1;
    }
    return s;
  }

  /** The leaf table that maps `vpn`, allocating and linking missing tables on the way. */
  ensureLeafTable(rootSlot: number, vpn: number, user: boolean, vcpu: number, tNs: number): number {
    return this.ensureTable(rootSlot, vpn, 1, user, vcpu, tNs);
  }

  /** The table at `level` on the way to `vpn` (1: the leaf table), allocating and linking missing tables above it. */
  ensureTable(rootSlot: number, vpn: number, tableLevel: number, user: boolean, vcpu: number, tNs: number): number {
    let s = rootSlot;
    for (let level = this.levels, shift = this.layout.rootShift; level > tableLevel; level--, shift -= 9) {
      const idx = (vpn >> shift) & 511;
      let c = this.link[(s << 9) | idx];
      if (c < 0) {
        c = this.allocTable(level - 1, vcpu, tNs);
        this.setEntry(s, idx, this.pte(this.slotPfn[c], this.upperFlags(level, user)), c, vcpu, tNs);
      }
      s = c;
    }
    return s;
  }

  /** Flags of an entry in a table at `level` that points to a lower table. */
  private upperFlags(level: number, user: boolean): number {
    if (this.levels === 3 && level === 3) return FLAGS_PAE_PDPTE;
    return user ? FLAGS_USER_TABLE : FLAGS_KERNEL_TABLE;
  }

  /** Unlinks and frees an empty leaf table (munmap's free_pgtables). */
  unlinkLeafTable(rootSlot: number, vpn: number, l1: number, vcpu: number, tNs: number): void {
    let s = rootSlot;
    for (let shift = this.layout.rootShift; shift > 9; shift -= 9) s = this.link[(s << 9) | ((vpn >> shift) & 511)];
    this.clearEntry(s, (vpn >> 9) & 511, vcpu, tNs);
    this.freeTable(l1, vcpu, tNs);
  }

  /**
   * exit_mmap's page-table part for the user half of `root`: zaps every
   * present leaf, then frees the tables bottom up, clearing each upper entry
   * before the page below it goes (free_pgtables). The kernel half and the
   * root itself are pgd_free's (KernelSpace).
   */
  freeUserTables(root: number, vcpu: number, tNs: number): void {
    const userSlots = this.layout.kernelRootSlotFirst;
    const base = root << 9;
    // 1. zap_pte_range over every mapping.
    for (let i = 0; i < userSlots; i++) {
      const c = this.link[base + i];
      if (c >= 0) this.zapSubtree(c, this.levels - 1, vcpu, tNs);
    }
    // 2. free_pgtables: bottom up, clearing each upper entry before the page goes.
    for (let i = 0; i < userSlots; i++) {
      const c = this.link[base + i];
      if (c < 0) continue;
      this.freeSubtree(c, this.levels - 1, vcpu, tNs);
      this.clearEntry(root, i, vcpu, tNs);
      this.freeTable(c, vcpu, tNs);
    }
  }

  private zapSubtree(slot: number, level: number, vcpu: number, tNs: number): void {
    const base = slot << 9;
    for (let i = 0; i < 512 && this.slotPresent[slot] > 0; i++) {
      if ((this.entries[base + i] & PTE_P) === 0) continue;
      if (level === 1) this.clearLeaf(slot, i, vcpu, tNs);
      else this.zapSubtree(this.link[base + i], level - 1, vcpu, tNs);
    }
  }

  private freeSubtree(slot: number, level: number, vcpu: number, tNs: number): void {
    if (level === 1) return;
    const base = slot << 9;
    for (let i = 0; i < 512; i++) {
      const c = this.link[base + i];
      if (c < 0) continue;
      this.freeSubtree(c, level - 1, vcpu, tNs);
      this.clearEntry(slot, i, vcpu, tNs);
      this.freeTable(c, vcpu, tNs);
    }
  }

  /** Page-table pages per level and leaf-entry bits, from the writer's own copy. */
  census(): TableCensus {
    const tablesPerLevel = new Array<number>(this.levels).fill(0);
    let leafSlots = 0;
    let present = 0;
    let adrw = 0;
    const want = PTE_P | PTE_A | PTE_D | PTE_RW;
    for (let s = 0; s < this.slotCount; s++) {
      const level = this.slotLevel[s];
      if (level === 0) continue;
      tablesPerLevel[level - 1]!++;
      if (level !== 1) {
        // A PS entry of an x86-64 L2 maps memory too (the direct map's 2 MiB
        // pages): a leaf, as the MMU's census counts it (pt-census.ts isLeaf).
        if (level === 2 && this.levels === 4) {
          for (let i = s << 9, e = i + 512; i < e; i++) if ((this.entries[i] & (want | PTE_PS)) === (want | PTE_PS)) adrw++;
        }
        continue;
      }
      leafSlots += 512;
      for (let i = s << 9, e = i + 512; i < e; i++) {
        const pte = this.entries[i];
        if ((pte & PTE_P) !== 0) present++;
        if ((pte & want) === want) adrw++;
      }
    }
    return { tablesPerLevel, leafSlots, leafPresent: present, leafAccessedDirtyWritable: adrw };
  }
}
