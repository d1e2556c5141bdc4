/**
 * The hardware MMU: the x86 page walker that translates every guest load and
 * store through the guest's own page tables (DESIGN section 5). It is neither
 * the guest (which writes the tables, with pt_write events) nor the
 * hypervisor (the trackers, which see what this reducer reports).
 *
 * What it reproduces:
 * - Intel SDM vol. 3, section 4.8 (accessed and dirty flags): whenever the
 *   processor uses a paging-structure entry to translate an address it sets
 *   that entry's A flag if it is clear, and on a write it sets the D flag of
 *   the entry that maps the page. Each flag that goes from 0 to 1 is a store
 *   into the page-table page, so it dirties that page like any other store;
 *   a flag already set costs nothing. This is why, after boot, most PTEs carry
 *   A, D and RW, and why page-table pages keep reappearing in the dirty set.
 * - Section 4.4 (PAE paging): the four PDPTEs are loaded into registers on a
 *   CR3 load and are not used by the walk itself, so the processor never sets
 *   their A flag, and their RW bit is reserved (it does not limit writes).
 * - Section 4.5 (4-level paging): PS in a PML4E is reserved; a PS entry at
 *   level 3 maps 1 GiB and at level 2 maps 2 MiB, and its frame must be
 *   aligned to that size (the low frame bits are reserved).
 * - Xen PV direct mode: a PV guest writes machine frames (mfns) into its
 *   PTEs and the hardware walks them as they are; the walker translates each
 *   frame back through the m2p only to name pages as pfns, the way events and
 *   trackers do. An mfn the guest does not own is a fault (Xen would have
 *   refused the PTE in mmu_update).
 *
 * The loops over events are beside it, one per paging format for apply
 * (walk-x86-64.ts, walk-pae.ts) and the processor under EPT for HAP and PML
 * (ept-run.ts). Each walks the common case inline, reading the MMU's walk
 * state, and hands the MMU every store it does not inline, every CR3 load
 * and every walk it does not finish (walkGeneral). The MMU is hardware
 * state only: no clock, no oracle (the EPT loop is given both). Which pages
 * are page tables, and the per-level counts of their leaf entries, are the
 * census's (pt-census.ts), kept as pt_write, cr3_load and the walks' A/D
 * stores change them; output shapes are in mmu-output.ts.
 *
 * A faulting access (not present, a write through a read-only entry, a
 * reserved bit, a frame outside the guest) is a guest bug: it is reported in
 * the output and in the stats, it translates nothing and sets no A/D flag.
 */
import type { GuestBatch } from '../events/guest-batch.js';
import { GuestEventKind } from '../events/guest-event-kind.js';
import { makeP2mMap, type P2mMap } from '../model/p2m-map.js';
import type { GuestType, PagingMode } from '../model/paging.js';
import { maxGuestPages } from '../model/guest-config.js';
import { NARROW_FRAMES, PTE_A, PTE_D, PTE_FLAG_BITS, PTE_HIGH_SHIFT, PTE_P, PTE_PS, PTE_RW, pteValue } from '../model/pte.js';
import {
  ACCESS_1G,
  ACCESS_2M,
  ACCESS_FAULT,
  ACCESS_LEAF_TABLE,
  ACCESS_PT_PAGE,
  ACCESS_WRITE,
  FAULT_NO_ROOT,
  FAULT_NOT_OWNED,
  FAULT_NOT_PRESENT,
  FAULT_READ_ONLY,
  FAULT_RESERVED,
  MAX_RECORDED_FAULTS,
  MMU_FAULT_REASONS,
  type MmuFaultReason,
  type MmuFaultRecord,
  type MmuOutput,
  type MmuStats,
  WALK_SLOTS,
} from './mmu-output.js';
import { TABLE_ENTRIES, TABLE_SHIFT, TablePool } from './mmu-table-pool.js';
import { PagingStructureCache } from './paging-structure-cache.js';
import { PtCensus } from './pt-census.js';
import { LOOK_AHEAD_MIN_PAGES } from './touch-ahead.js';
import { walkPae } from './walk-pae.js';
import { walkX86_64 } from './walk-x86-64.js';
import { zeroed } from '../util/array-pool.js';

export interface MmuConfig {
  readonly guest: GuestType;
  readonly paging: PagingMode;
  readonly memPages: number;
  readonly vcpus: number;
  readonly seed: number;
}

type Mutable<T> = { -readonly [K in keyof T]: T[K] };

// Module-local copies of imported constants, as in the walk loops.
const P = PTE_P;
const SHIFT = TABLE_SHIFT;
const FRAME_SHIFT = PTE_FLAG_BITS;
/** Pages of a 2 MiB and a 1 GiB mapping. */
const PAGES_2M = 512;
const PAGES_1G = 512 * 512;

export class Mmu {
  readonly p2m?: P2mMap;

  // ---- The walk state ----------------------------------------------------
  // The loops that walk inline (walk-x86-64.ts, walk-pae.ts, ept-run.ts)
  // read these directly: a walk is a few typed-array loads, and a call per
  // level would cost more than the loads. They change only through the
  // MMU's methods (the x86-64 loop's inlined pt_write apart). Other reducers
  // read tables with table().

  readonly memPages: number;
  /**
   * The walk loops (this MMU's, the EPT loop, Tracker.process) load a block
   * of events' lines ahead of them (touch-ahead.ts): by default for guests
   * whose per-page arrays outgrow the caches. Changes speed only.
   */
  lookAhead: boolean;
  /** Frames a PTE may name: memPages for HVM, host frames for PV. */
  readonly frameLimit: number;
  /**
   * An HVM guest of more than 2^24 frames, whose PTEs have a high word
   * (src/model/pte.ts): its pt_writes carry it in `arg` above the index, the
   * pool keeps it (entryHigh), and every walk and pt_write goes through the
   * general paths here, which read both words.
   */
  readonly wideFrames: boolean;
  /** mfn → pfn for PV, undefined for HVM (frames are pfns). */
  readonly m2p: Int32Array | undefined;
  /** The tables' entries (mmu-table-pool.ts). */
  readonly pool: TablePool;
  /** Root pfn loaded in each vCPU's CR3, -1 before the first load. Sized for every vcpu id. */
  readonly rootOfVcpu = zeroed(Int32Array, 0x10000).fill(-1);
  /** Which pages are page tables, and what their leaf entries carry (pt-census.ts). */
  readonly census: PtCensus;
  /** The paging-structure cache in front of the 4-level walk (paging-structure-cache.ts). */
  readonly psc = new PagingStructureCache();

  private readonly pae: boolean;
  private readonly topLevel: number;
  private readonly vcpus: number;
  private walkCount = 0;
  private adStoreCount = 0;
  private faultCount = 0;
  private readonly faultsByReasonCode = new Float64Array(MMU_FAULT_REASONS.length);
  private readonly recordedFaults: MmuFaultRecord[] = [];

  // Scratch for the general walker.
  private readonly walkOffset = new Int32Array(4);
  private readonly walkPte = new Int32Array(4);
  private readonly walkSlot = new Int32Array(4);

  // Output buffers, grown to the largest batch seen.
  private capacityEvents = 0;
  private dataPfnBuf = new Int32Array(0);
  private accessBuf = new Uint8Array(0);
  private walkPfnsBuf = new Int32Array(0);
  private adEventBuf = new Int32Array(1024);
  private adPtPfnBuf = new Int32Array(1024);
  private adCount = 0;
  private readonly out: Mutable<MmuOutput>;
  private readonly rangeOut: Mutable<MmuOutput>;

  constructor(config: MmuConfig) {
    const { guest, paging, memPages, vcpus } = config;
    if (!Number.isInteger(memPages) || memPages < 1 || memPages > maxGuestPages(guest)) {
      throw new RangeError(
        `mmu: memPages must be an integer in 1..${maxGuestPages(guest)} for a ${guest.toUpperCase()} guest (the PTE's frames; a PV guest's name host frames, twice its own), got ${memPages}`,
      );
    }
    if (!Number.isInteger(vcpus) || vcpus < 1 || vcpus >= 0xffff) {
      throw new RangeError(`mmu: vcpus must be an integer in 1..65534, got ${vcpus}`);
    }
    this.pae = paging === 'pae';
    this.wideFrames = guest === 'hvm' && memPages > NARROW_FRAMES;
    this.topLevel = this.pae ? 3 : 4;
    this.memPages = memPages;
    this.lookAhead = memPages >= LOOK_AHEAD_MIN_PAGES;
    this.vcpus = vcpus;
    if (guest === 'pv') {
      this.p2m = makeP2mMap(memPages, config.seed);
      this.m2p = this.p2m.mfnToPfn;
      this.frameLimit = this.m2p.length;
      this.pool = new TablePool(memPages, this.frameLimit, this.p2m.pfnToMfn);
    } else {
      this.m2p = undefined;
      this.frameLimit = memPages;
      this.pool = new TablePool(memPages, memPages, undefined, memPages > NARROW_FRAMES);
    }
    this.census = new PtCensus(this.pool, this.pae, memPages, this.frameLimit, this.m2p);
    const output = (): Mutable<MmuOutput> => ({
      count: 0,
      dataPfn: this.dataPfnBuf,
      access: this.accessBuf,
      walkPfns: this.walkPfnsBuf,
      adCount: 0,
      adEvent: this.adEventBuf.subarray(0, 0),
      adPtPfn: this.adPtPfnBuf.subarray(0, 0),
    });
    this.out = output();
    this.rangeOut = output();
  }

  /** Processes every event of the batch in order; returns a reused MmuOutput (valid until the next apply). */
  apply(batch: GuestBatch): MmuOutput {
    const n = batch.count;
    this.applyRange(batch, 0, n);
    const out = this.out;
    out.count = n;
    out.dataPfn = this.dataPfnBuf.subarray(0, n);
    out.access = this.accessBuf.subarray(0, n);
    out.walkPfns = this.walkPfnsBuf.subarray(0, n * WALK_SLOTS);
    out.adCount = this.adCount;
    out.adEvent = this.adEventBuf.subarray(0, this.adCount);
    out.adPtPfn = this.adPtPfnBuf.subarray(0, this.adCount);
    return out;
  }

  /**
   * Events [from, to) of the batch, as apply() does them. The output's
   * columns are the MMU's whole buffers (no views are made, so that one
   * event at a time costs no allocation): only indices [from, to) and the
   * first adCount A/D stores are this call's.
   */
  applyRange(batch: GuestBatch, from: number, to: number): MmuOutput {
    this.ensureCapacity(batch.count);
    this.adCount = 0;
    // The loops write each event's columns into rangeOut, whose columns are
    // the whole buffers (ensureCapacity keeps them so).
    const out = this.rangeOut;
    const walks = this.pae ? walkPae(this, batch, from, to, out) : walkX86_64(this, batch, from, to, out);
    this.walkCount += walks;
    this.adStoreCount += this.adCount;
    out.count = batch.count;
    out.adCount = this.adCount;
    out.adEvent = this.adEventBuf;
    out.adPtPfn = this.adPtPfnBuf;
    return out;
  }

  /** Whether the EPT loop (ept-run.ts) can run this guest: its inlined walk is the 4-level one, over one-word entries. */
  get runsUnderEpt(): boolean {
    // A wide guest's walks all go through walkGeneral: the loop would exit on every one.
    return !this.pae && !this.wideFrames;
  }

  // ---- For the walk loops: what they do not finish inline -----------------

  /** Event i, a pt_write, as walkX86_64 inlines it: output columns, then the store. */
  ptWriteEvent(batch: GuestBatch, i: number): void {
    const page = batch.page[i]!;
    const arg = batch.arg[i]!;
    // A wide guest's arg carries the entry's high word above its index.
    const index = this.wideFrames ? arg & (TABLE_ENTRIES - 1) : arg;
    const high = this.wideFrames ? arg >>> PTE_HIGH_SHIFT : 0;
    if (!(page >= 0 && page < this.memPages) || arg < 0 || index >= TABLE_ENTRIES || high > 0xff) throw this.badPtWrite(i, page, arg);
    const pte = pteValue(batch.pte[i]!, high);
    const live = this.census.liveMask[page]!;
    this.dataPfnBuf[i] = page;
    this.accessBuf[i] = live === 0 ? ACCESS_WRITE : live === 1 ? ACCESS_WRITE | ACCESS_PT_PAGE | ACCESS_LEAF_TABLE : ACCESS_WRITE | ACCESS_PT_PAGE;
    const w = i << 2;
    this.walkPfnsBuf.fill(-1, w, w + WALK_SLOTS);
    if (live > 1) this.ptWriteLinked(page, index, pte);
    else this.ptWriteUnlinked(page, index, pte, live);
  }

  /**
   * A pt_write into a page that is no table yet or only a leaf table (`live`
   * <= 1), whose entries link nothing: no reference moves, and at most the
   * level-1 leaf counts change. walkX86_64 inlines it; the EPT loop calls it.
   * `pte` is the entry as one number (pteValue: a wide guest's holds both words).
   */
  ptWriteUnlinked(page: number, index: number, pte: number, live: number): void {
    const pool = this.pool;
    let slot = pool.slotOfPfn[page]!;
    let offset = (slot << SHIFT) | index;
    const old = pool.entryHigh === undefined ? pool.entries[offset]! : pool.entryValue(offset);
    if (old === pte) return;
    if (slot === 0) {
      slot = pool.alloc(page);
      offset = (slot << SHIFT) | index;
    }
    if (live === 1) {
      if ((old & P) !== 0) this.census.countLeaf(old, 1, -1);
      if ((pte & P) !== 0) this.census.countLeaf(pte, 1, 1);
    }
    if (pool.entryHigh === undefined) pool.entries[offset] = pte;
    else pool.setEntryValue(offset, pte);
    if (pool.entryPfn !== undefined) {
      const f = pte >>> FRAME_SHIFT;
      pool.entryPfn[offset] = f < this.frameLimit ? this.m2p![f]! : -1;
    }
    if ((pool.nonzeroEntries[slot]! += (pte !== 0 ? 1 : 0) - (old !== 0 ? 1 : 0)) === 0 && live === 0) pool.free(slot);
  }

  /** Event i, a cr3_load, phys_write or idle: no walk (the loops handle pt_write). */
  applyOther(batch: GuestBatch, i: number, kind: number): void {
    const page = batch.page[i]!;
    let pfn = -1;
    let acc = 0;
    switch (kind) {
      case GuestEventKind.cr3Load:
        this.loadCr3(batch, i);
        break;
      case GuestEventKind.physWrite:
        this.checkPfn(i, page, 'phys_write');
        pfn = page;
        acc = this.census.liveMask[page] !== 0 ? ACCESS_WRITE | ACCESS_PT_PAGE : ACCESS_WRITE;
        break;
      case GuestEventKind.idle:
        break;
      default:
        throw new RangeError(`mmu: event ${i} of the batch has unknown kind ${kind}`);
    }
    this.dataPfnBuf[i] = pfn;
    this.accessBuf[i] = acc;
    const w = i << 2;
    const walkPfns = this.walkPfnsBuf;
    walkPfns[w] = -1;
    walkPfns[w + 1] = -1;
    walkPfns[w + 2] = -1;
    walkPfns[w + 3] = -1;
  }

  /** Event i, a cr3_load: the vCPU's CR3 takes the root it names. */
  loadCr3(batch: GuestBatch, i: number): void {
    const page = batch.page[i]!;
    this.checkPfn(i, page, 'cr3_load');
    const vcpu = batch.vcpu[i]!;
    if (vcpu >= this.vcpus) {
      throw new RangeError(`mmu: event ${i} of the batch loads CR3 on vcpu ${vcpu}, but the guest has ${this.vcpus} vCPUs`);
    }
    this.cr3Load(vcpu, page);
  }

  /** Walks a loop finished inline without the MMU's methods (the EPT loop's), for stats(). */
  countWalks(n: number): void {
    this.walkCount += n;
  }

  /**
   * Every walk the inlined loops do not finish: A/D flags to set,
   * superpages, faults, a vCPU with no CR3 yet.
   */
  walkGeneral(batch: GuestBatch, i: number, isWrite: number): void {
    const vpn = batch.page[i]!;
    const w = i << 2;
    const walkPfns = this.walkPfnsBuf;
    walkPfns[w] = -1;
    walkPfns[w + 1] = -1;
    walkPfns[w + 2] = -1;
    walkPfns[w + 3] = -1;
    const root = this.rootOfVcpu[batch.vcpu[i]!]!;
    if (root < 0) return this.fault(batch, i, isWrite, FAULT_NO_ROOT, this.topLevel);
    const pae = this.pae;
    const entries = this.pool.entries;
    const slotOfPfn = this.pool.slotOfPfn;
    const offsets = this.walkOffset;
    const ptes = this.walkPte;
    const slots = this.walkSlot;
    let table = root;
    let level = this.topLevel;
    let depth = 0;
    let leafFrame: number;
    let pagesMapped = 1;
    for (;;) {
      walkPfns[w + depth] = table;
      const slot = slotOfPfn[table]!;
      const index = pae && level === 3 ? vpn >>> 18 : (vpn >> (9 * (level - 1))) & 511;
      const offset = (slot << TABLE_SHIFT) | index;
      const pte = entries[offset]!;
      if ((pte & PTE_P) === 0) return this.fault(batch, i, isWrite, FAULT_NOT_PRESENT, level);
      offsets[depth] = offset;
      ptes[depth] = pte;
      slots[depth] = slot;
      const high = this.pool.entryHigh;
      const frame = high === undefined ? pte >>> PTE_FLAG_BITS : (pte >>> PTE_FLAG_BITS) + high[offset]! * NARROW_FRAMES;
      if (level === 1) {
        leafFrame = frame;
        break;
      }
      if ((pte & PTE_PS) !== 0) {
        if (!this.census.leafCapable(level)) return this.fault(batch, i, isWrite, FAULT_RESERVED, level);
        pagesMapped = level === 2 ? PAGES_2M : PAGES_1G;
        if ((frame & (pagesMapped - 1)) !== 0) return this.fault(batch, i, isWrite, FAULT_RESERVED, level);
        leafFrame = frame + (vpn & (pagesMapped - 1));
        break;
      }
      const next = this.framePfn(frame);
      if (next < 0) return this.fault(batch, i, isWrite, FAULT_NOT_OWNED, level);
      table = next;
      level--;
      depth++;
    }
    const pfn = this.framePfn(leafFrame);
    if (pfn < 0) return this.fault(batch, i, isWrite, FAULT_NOT_OWNED, level);
    if (isWrite !== 0) {
      // The effective RW is the AND over every level used (SDM 4.6); the
      // PDPTEs of PAE take no part.
      for (let d = 0; d <= depth; d++) {
        const lvl = this.topLevel - d;
        if (pae && lvl === 3) continue;
        if ((ptes[d]! & PTE_RW) === 0) return this.fault(batch, i, isWrite, FAULT_READ_ONLY, lvl);
      }
    }
    for (let d = 0; d <= depth; d++) {
      if (pae && d === 0) continue;
      const bits = d === depth && isWrite !== 0 ? PTE_A | PTE_D : PTE_A;
      const pte = ptes[d]!;
      if ((pte & bits) !== bits) this.adStore(i, offsets[d]!, slots[d]!, bits);
    }
    let acc = isWrite;
    if (this.census.liveMask[pfn] !== 0) acc |= ACCESS_PT_PAGE;
    if (pagesMapped === PAGES_2M) acc |= ACCESS_2M;
    else if (pagesMapped === PAGES_1G) acc |= ACCESS_1G;
    this.dataPfnBuf[i] = pfn;
    this.accessBuf[i] = acc;
  }

  /**
   * The hardware sets `bits` in a present entry that lacked some of them when
   * the walk read it: one store into the page-table page. The entry is read
   * again because an earlier store of the same walk may have set them already
   * (a table that maps itself uses one entry at two levels), and then there is
   * nothing to store. Only A and D change, so the entry stays a leaf or a
   * pointer as it was, and only the leaf flag counts move.
   */
  private adStore(i: number, offset: number, slot: number, bits: number): void {
    this.psc.invalidate();
    const pte = this.pool.entries[offset]!;
    if ((pte & bits) === bits) return;
    const updated = pte | bits;
    this.pool.entries[offset] = updated;
    const pfn = this.pool.pfnOfSlot[slot]!;
    let k = this.adCount;
    if (k === this.adEventBuf.length) this.growAdBuffers();
    this.adEventBuf[k] = i;
    this.adPtPfnBuf[k] = pfn;
    this.adCount = k + 1;
    this.census.flagsStored(pfn, offset & (TABLE_ENTRIES - 1), pte, updated);
  }

  private fault(batch: GuestBatch, i: number, isWrite: number, reason: number, level: number): void {
    this.faultCount++;
    this.faultsByReasonCode[reason]!++;
    if (this.recordedFaults.length < MAX_RECORDED_FAULTS) {
      let tNs = batch.baseNs;
      for (let k = 0; k <= i; k++) tNs += batch.dtNs[k]!;
      this.recordedFaults.push({
        tNs,
        vcpu: batch.vcpu[i]!,
        vpn: batch.page[i]!,
        kind: isWrite !== 0 ? 'write' : 'read',
        reason: MMU_FAULT_REASONS[reason]!,
        level,
      });
    }
    this.dataPfnBuf[i] = -1;
    this.accessBuf[i] = isWrite | ACCESS_FAULT;
  }

  // ---- Stores into the tables, and CR3 -----------------------------------

  /**
   * A pt_write to a page live as a table above level 1, whose entries may
   * link tables: the loops handle every other pt_write themselves.
   */
  ptWriteLinked(pfn: number, index: number, pte: number): void {
    const pool = this.pool;
    let slot = pool.slotOfPfn[pfn]!;
    if (slot === 0) {
      if (pte === 0) return; // zero into a page that holds only zeros
      slot = pool.alloc(pfn);
    }
    const offset = (slot << TABLE_SHIFT) | index;
    const old = pool.entryHigh === undefined ? pool.entries[offset]! : pool.entryValue(offset);
    if (old === pte) return;
    // A cached walk went through present entries only: filling an empty one
    // leaves every cached walk as it was.
    if ((old & PTE_P) !== 0) this.psc.invalidate();
    if (pool.entryHigh === undefined) pool.entries[offset] = pte;
    else pool.setEntryValue(offset, pte);
    if (pool.entryPfn) pool.entryPfn[offset] = this.framePfn(pte >>> PTE_FLAG_BITS);
    pool.nonzeroEntries[slot]! += (pte !== 0 ? 1 : 0) - (old !== 0 ? 1 : 0);
    this.census.linkedEntryChanged(pfn, index, old, pte);
  }

  private cr3Load(vcpu: number, root: number): void {
    const old = this.rootOfVcpu[vcpu]!;
    if (old === root) return;
    this.rootOfVcpu[vcpu] = root;
    this.census.switchRoot(old, root);
  }

  /** A frame from a PTE as a guest pfn, or -1 when the guest does not own it. */
  private framePfn(frame: number): number {
    if (frame >= this.frameLimit) return -1;
    return this.m2p === undefined ? frame : this.m2p[frame]!;
  }

  // ---- Read access for later reducers -----------------------------------

  /**
   * The entries (all 512) of a page that is a live page table or holds
   * entries written with pt_write; undefined for any other page. A view into
   * the MMU's storage, valid until the next apply(): read it, never write it
   * (tables change through pt_write events only).
   */
  table(ptPfn: number): Int32Array | undefined {
    if (!(ptPfn >= 0 && ptPfn < this.memPages)) return undefined;
    const slot = this.pool.slotOfPfn[ptPfn]!;
    if (slot === 0 && this.census.liveMask[ptPfn] === 0) return undefined;
    const base = slot << TABLE_SHIFT;
    return this.pool.entries.subarray(base, base + TABLE_ENTRIES);
  }

  /**
   * The level (1 = leaf table) at which ptPfn is a live page table, 0 if it
   * is none. A page live at several levels (a recursive mapping) gives the
   * highest.
   */
  tableLevel(ptPfn: number): number {
    if (!(ptPfn >= 0 && ptPfn < this.memPages)) return 0;
    return this.census.tableLevel(ptPfn);
  }

  /** Every live page table, in pfn order, once each (at its highest level); entries as for table(). */
  forEachTable(fn: (ptPfn: number, level: number, entries: Int32Array) => void): void {
    const liveMask = this.census.liveMask;
    for (let pfn = 0; pfn < this.memPages; pfn++) {
      if (liveMask[pfn] !== 0) fn(pfn, this.tableLevel(pfn), this.table(pfn)!);
    }
  }

  /** The root loaded in a vCPU's CR3, -1 before its first cr3_load. */
  rootOf(vcpu: number): number {
    return this.rootOfVcpu[vcpu] ?? -1;
  }

  stats(): MmuStats {
    const faultsByReason = {} as Record<MmuFaultReason, number>;
    MMU_FAULT_REASONS.forEach((reason, code) => (faultsByReason[reason] = this.faultsByReasonCode[code]!));
    return {
      ...this.census.stats(),
      walks: this.walkCount,
      adStores: this.adStoreCount,
      faults: this.faultCount,
      faultsByReason,
      firstFaults: this.recordedFaults.slice(),
      storedTablePages: this.pool.slotsInUse,
    };
  }

  // ---- Plumbing -----------------------------------------------------------

  /** The error for a pt_write whose pfn or entry index is out of range, the pfn checked first. */
  badPtWrite(i: number, pfn: number, index: number): RangeError {
    this.checkPfn(i, pfn, 'pt_write');
    return new RangeError(
      this.wideFrames
        ? `mmu: event ${i} of the batch (pt_write to pfn ${pfn}) has arg ${index}: an entry index of 0..511 and a frame high word of 0..255 above bit ${PTE_HIGH_SHIFT}`
        : `mmu: event ${i} of the batch (pt_write to pfn ${pfn}) has entry index ${index}; a table has 0..511`,
    );
  }

  /** Throws unless pfn is one of the guest's pages. */
  checkPfn(i: number, pfn: number, kind: string): void {
    if (!(pfn >= 0 && pfn < this.memPages)) {
      throw new RangeError(`mmu: event ${i} of the batch (${kind}) names pfn ${pfn}, outside the guest's ${this.memPages} pages`);
    }
  }

  badVpn(i: number, vpn: number): RangeError {
    return new RangeError(`mmu: event ${i} of the batch has vpn ${vpn}, which a PAE guest's 32-bit address cannot hold (vpn < 2^20)`);
  }

  private ensureCapacity(n: number): void {
    if (n <= this.capacityEvents) return;
    const c = Math.max(n, this.capacityEvents * 2);
    this.capacityEvents = c;
    this.dataPfnBuf = zeroed(Int32Array, c);
    this.accessBuf = zeroed(Uint8Array, c);
    this.walkPfnsBuf = zeroed(Int32Array, c * WALK_SLOTS);
    const out = this.rangeOut;
    out.dataPfn = this.dataPfnBuf;
    out.access = this.accessBuf;
    out.walkPfns = this.walkPfnsBuf;
  }

  private growAdBuffers(): void {
    const c = this.adEventBuf.length * 2;
    const ev = new Int32Array(c);
    ev.set(this.adEventBuf);
    const pt = new Int32Array(c);
    pt.set(this.adPtPfnBuf);
    this.adEventBuf = ev;
    this.adPtPfnBuf = pt;
  }
}
