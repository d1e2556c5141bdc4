/**
 * What the hardware MMU (src/reducers/mmu.ts) reports: for each event of a
 * batch, the page it reached and how (the ACCESS_* bits), the page-table
 * pages its walk read, and the A/D stores the walk made into them; and,
 * over a run, its statistics. The trackers read the first to see what the
 * hypervisor would see, the summary reads the second.
 *
 * A faulting access is a guest bug (DESIGN section 5): the reasons are the
 * page-fault causes of Intel SDM vol. 3A section 4.7 (not present, a write
 * through a read-only entry, a reserved bit set), plus the two a simulator
 * of a guest adds: no CR3 loaded yet, and, for a Xen PV guest in direct
 * mode, a machine frame the guest does not own.
 */
import type { PtCensusStats } from './pt-census.js';

/** Bits of MmuOutput.access. */
export const ACCESS_WRITE = 1;
/** The target pfn is a live page-table page. */
export const ACCESS_PT_PAGE = 2;
/** A guest bug: not present, write through a read-only entry, reserved bit, or a frame the guest does not own. */
export const ACCESS_FAULT = 4;
/** The leaf was a 2 MiB PS entry. */
export const ACCESS_2M = 8;
/** The leaf was a 1 GiB PS entry (x86-64 only). */
export const ACCESS_1G = 16;
/**
 * pt_write only: the page written is live as a leaf (level-1) table, and
 * as nothing else, when the write happens. The trackers run after the MMU
 * has applied a whole chunk of events, so a question about a table's level
 * asked of the MMU then would see the chunk's later links and unlinks
 * (shadow's out-of-sync rule asks it: shadow-oos.ts).
 */
export const ACCESS_LEAF_TABLE = 32;

/** Entries of walkPfns per event: one per level, top level first. */
export const WALK_SLOTS = 4;

/**
 * What the MMU did for each event of a batch, index-aligned with it. The
 * object and its arrays are reused: valid until the next apply().
 */
export interface MmuOutput {
  /** = batch.count; every column below has this length (walkPfns 4x). */
  readonly count: number;
  /**
   * The pfn event i touched: write/read → the translated data page;
   * phys_write → its pfn; pt_write → the page-table page written;
   * cr3_load, idle, and any faulting access → -1.
   */
  readonly dataPfn: Int32Array;
  /** ACCESS_* bits. */
  readonly access: Uint8Array;
  /**
   * count * 4 entries: pfns of the tables walked, top level first (PAE uses
   * the first 3, a PS leaf ends the walk early), -1 where unused. A faulting
   * walk lists the tables it read, the faulting entry's table last; any
   * other walk ends at the table holding the leaf entry it used (whose index
   * the vpn gives), so no column repeats it.
   */
  readonly walkPfns: Int32Array;
  /** Hardware A/D stores during this batch: each set at least one clear bit in one entry. */
  readonly adCount: number;
  /** adCount entries: the event whose walk made each store, in order. */
  readonly adEvent: Int32Array;
  /** adCount entries: the page-table page each store wrote (the store dirties it). */
  readonly adPtPfn: Int32Array;
}

export type MmuFaultReason = 'no-address-space' | 'not-present' | 'read-only' | 'reserved-bit' | 'frame-not-owned';

/** Fault reasons, indexed by the FAULT_* codes below. */
export const MMU_FAULT_REASONS: readonly MmuFaultReason[] = [
  'no-address-space',
  'not-present',
  'read-only',
  'reserved-bit',
  'frame-not-owned',
];
/** The walker's fault codes: indices into MMU_FAULT_REASONS. */
export const FAULT_NO_ROOT = 0;
export const FAULT_NOT_PRESENT = 1;
export const FAULT_READ_ONLY = 2;
export const FAULT_RESERVED = 3;
export const FAULT_NOT_OWNED = 4;

/** How many faults stats() describes one by one. */
export const MAX_RECORDED_FAULTS = 16;

export interface MmuFaultRecord {
  readonly tNs: number;
  readonly vcpu: number;
  readonly vpn: number;
  readonly kind: 'write' | 'read';
  readonly reason: MmuFaultReason;
  /** Level of the entry at fault (for read-only: the highest read-only one); the top level for no-address-space. */
  readonly level: number;
}

/** What stats() reports: the page-table census (pt-census.ts), and what the walks did. */
export interface MmuStats extends PtCensusStats {
  /** write and read events translated (faulting ones included). */
  readonly walks: number;
  /** Hardware A/D stores into page-table pages since the start. */
  readonly adStores: number;
  readonly faults: number;
  readonly faultsByReason: Readonly<Record<MmuFaultReason, number>>;
  /** The first MAX_RECORDED_FAULTS faults. */
  readonly firstFaults: readonly MmuFaultRecord[];
  /** Pages whose entries the MMU stores (tables, and pages being filled before they are linked). */
  readonly storedTablePages: number;
}
