/**
 * Look-ahead for the walk loops on guests that touch memory at random (the
 * 4 GiB random muncher of issue 16): the cache lines the next block of
 * events will need, loaded before the loop reaches them.
 *
 * Each such access misses the cache about three times: the guest's leaf
 * PTE, then, through the frame it holds, per-page state (the page's EPT
 * write gate and oracle version in the EPT loop; its version and the
 * shadow tracker's dirty sequence in Tracker.process). A loop that takes
 * them one event at a time waits for a chain of two dependent misses per
 * event: a profile of the EPT loop put 80% of its samples on those two
 * loads, one of the shadow path 68% of writeThrough's on one of them. Here
 * a block of events is read in passes whose loads are independent from one
 * event to the next, so the processor has a dozen misses in flight instead
 * of one: first every leaf PTE, then every page's state through the frames
 * just read. Nothing is written but the scratch column (which keeps the
 * loads from being dropped as unused): the loop that follows does its own
 * reads, in order, and finds the lines in the cache. A stale guess (a root
 * changed by a CR3 load in the block, a table a pt_write changes, a cache
 * row not filled yet) costs a wasted load, never a different result.
 *
 * JavaScript has no prefetch instruction: these are plain loads, 20 to 30
 * instructions an event, worth it only where the lines miss. On apache (a
 * 1 GiB guest whose accesses mostly hit the cache) they cost 10-20% of the
 * EPT loop; the loops use them only for guests of LOOK_AHEAD_MIN_PAGES or
 * more, whose per-page arrays (4 bytes a page each) outgrow the L2 cache
 * several times over.
 */
import { GuestEventKind } from '../events/guest-event-kind.js';
import { PTE_FLAG_BITS, PTE_P } from '../model/pte.js';
import { TABLE_SHIFT } from './mmu-table-pool.js';
import { PSC_MASK, PSC_SHIFT } from './paging-structure-cache.js';

/** Events per look-ahead block: three lines each stay well inside a 32 KiB L1. */
export const TOUCH_AHEAD_EVENTS = 32;

/** Guests from 2 GiB: each per-page array is then 2 MiB or more. */
export const LOOK_AHEAD_MIN_PAGES = 1 << 19;

const KIND_READ = GuestEventKind.read;
const P = PTE_P;
const SHIFT = TABLE_SHIFT;
const FRAME_SHIFT = PTE_FLAG_BITS;
const ROW_MASK = PSC_MASK;
const ROW_SHIFT = PSC_SHIFT;

/**
 * Loads the leaf PTE of each of events [from, to) that is an access whose
 * upper levels the paging-structure cache holds (a row is one line, and
 * hot), into scratch[0..n) (scratch holds TOUCH_AHEAD_EVENTS or more).
 * Returns n.
 */
export function touchLeaves(
  kindCol: Uint8Array,
  vcpuCol: Uint16Array,
  pageCol: Int32Array,
  from: number,
  to: number,
  rootOfVcpu: Int32Array,
  psc: Int32Array,
  tag: number,
  entries: Int32Array,
  scratch: Int32Array,
): number {
  let n = 0;
  const vcpus = rootOfVcpu.length;
  for (let j = from; j < to; j++) {
    const v = vcpuCol[j]!;
    if (kindCol[j]! > KIND_READ || v >= vcpus) continue;
    const root = rootOfVcpu[v]!;
    const vpn = pageCol[j]!;
    const key = vpn >> 9;
    const h = ((key ^ (root << 5)) & ROW_MASK) << ROW_SHIFT;
    if (psc[h] === (root | tag) && psc[h + 1] === key) scratch[n++] = entries[(psc[h + 3]! << SHIFT) | (vpn & 511)]!;
  }
  return n;
}

/**
 * Loads a[f] and b[f] for the frame f of each present leaf in scratch[0..n)
 * that is below `limit` (an HVM guest's frames are its pfns). Overwrites
 * scratch.
 */
export function touchLeafPages(scratch: Int32Array, n: number, limit: number, a: Uint8Array, b: Uint32Array): void {
  const end = Math.min(limit, a.length, b.length);
  for (let k = 0; k < n; k++) {
    const leaf = scratch[k]!;
    const f = leaf >>> FRAME_SHIFT;
    if ((leaf & P) !== 0 && f < end) scratch[k] = a[f]! + b[f]!;
  }
}

/**
 * Loads the word of `bits` (a bit per page) for the frame of each present
 * leaf in scratch[0..n) below `limit`. Overwrites scratch.
 */
export function touchLeafBits(scratch: Int32Array, n: number, limit: number, bits: Uint32Array): void {
  const end = Math.min(limit, bits.length << 5);
  for (let k = 0; k < n; k++) {
    const leaf = scratch[k]!;
    const f = leaf >>> FRAME_SHIFT;
    if ((leaf & P) !== 0 && f < end) scratch[k] = bits[f >>> 5]!;
  }
}

/**
 * Loads a[p], and b[p] where b has it, for each page p >= 0 of
 * pfns[from..to) (the MMU's dataPfn column, -1 where an event touched no
 * page) into scratch.
 */
export function touchPages(pfns: Int32Array, from: number, to: number, a: Uint32Array, b: Int32Array, scratch: Int32Array): void {
  const aEnd = a.length;
  const bEnd = b.length;
  let n = 0;
  for (let j = from; j < to; j++) {
    const p = pfns[j]!;
    if (p >= 0 && p < aEnd) scratch[n++] = a[p]! + (p < bEnd ? b[p]! : 0);
  }
}

/**
 * Loads a[t] for the leaf table t of each walk of events [from, to) (the
 * MMU's walkPfns column, four slots an event, the last the leaf table's
 * pfn or -1) into scratch.
 */
export function touchLeafTables(walkPfns: Int32Array, from: number, to: number, a: Uint8Array, scratch: Int32Array): void {
  const end = a.length;
  let n = 0;
  for (let j = from; j < to; j++) {
    const t = walkPfns[(j << 2) + 3]!;
    if (t >= 0 && t < end) scratch[n++] = a[t]!;
  }
}

/**
 * Loads the word of `bits` (a bit per page) and versions[f] for the frame f
 * of each present leaf in scratch[0..n) below `limit` (the shadow loop's
 * page-table test and the oracle's version, shadow-run.ts). Overwrites
 * scratch.
 */
export function touchLeafVersions(scratch: Int32Array, n: number, limit: number, bits: Uint32Array, versions: Uint32Array): void {
  const end = Math.min(limit, bits.length << 5, versions.length);
  for (let k = 0; k < n; k++) {
    const leaf = scratch[k]!;
    const f = leaf >>> FRAME_SHIFT;
    if ((leaf & P) !== 0 && f < end) scratch[k] = bits[f >>> 5]! + versions[f]!;
  }
}
