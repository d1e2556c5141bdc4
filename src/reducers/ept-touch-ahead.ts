/**
 * The EPT loop's look-ahead (runUnderEpt, ept-run.ts): the cache lines the
 * next block of accesses will need, loaded before the loop reaches them.
 *
 * On a guest that touches memory at random (the 4 GiB random muncher of
 * issue 16) each access misses the cache three times: the guest's leaf
 * PTE, then, through the frame it holds, the page's write gate and its
 * oracle version. The loop takes them one event at a time, each a chain
 * of two dependent misses, and a profile put 80% of its samples on those
 * two loads. Here a block of events is translated in two passes whose
 * loads are independent from one event to the next, so the processor has
 * a dozen misses in flight instead of one: first every leaf PTE, then
 * every gate and version through the frames just read. Nothing is written
 * but the scratch column: the loop that follows does its own reads, in
 * order, and finds the lines in the cache. A stale guess (a root changed
 * by a CR3 load in the block, a table a pt_write changes, a cache row not
 * filled yet) costs a wasted load, never a different result.
 */
import { GuestEventKind } from '../events/guest-event-kind.js';
import { PTE_FLAG_BITS, PTE_P } from '../model/pte.js';
import { TABLE_SHIFT } from './mmu-table-pool.js';
import { PSC_MASK, PSC_SHIFT } from './paging-structure-cache.js';

/** Events per look-ahead block: three lines each stay well inside a 32 KiB L1. */
export const TOUCH_AHEAD_EVENTS = 32;

const KIND_READ = GuestEventKind.read;
const P = PTE_P;
const SHIFT = TABLE_SHIFT;
const FRAME_SHIFT = PTE_FLAG_BITS;
const ROW_MASK = PSC_MASK;
const ROW_SHIFT = PSC_SHIFT;

/**
 * Loads, for events [from, to) that are accesses whose upper levels the
 * paging-structure cache holds, the leaf PTE, then the write gate and the
 * oracle version of the page it maps. `scratch` holds at least
 * TOUCH_AHEAD_EVENTS entries. Returns a value made of the loads (for the
 * caller to keep, so that the compiler keeps them).
 */
export function touchAhead(
  kindCol: Uint8Array,
  vcpuCol: Uint16Array,
  pageCol: Int32Array,
  from: number,
  to: number,
  rootOfVcpu: Int32Array,
  psc: Int32Array,
  tag: number,
  entries: Int32Array,
  frameLimit: number,
  framesArePfns: boolean,
  writeGate: Uint32Array,
  srcVersion: Uint32Array,
  scratch: Int32Array,
): number {
  // Pass 1: each access's leaf entry, through its cache row (a row is one line, and hot).
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
  // Pass 2: the page each maps (HVM's frames are its pfns; a PV guest's
  // are machine frames, translated by another load that is not worth it here).
  if (!framesArePfns) return n;
  const limit = Math.min(frameLimit, writeGate.length, srcVersion.length);
  let sink = 0;
  for (let k = 0; k < n; k++) {
    const leaf = scratch[k]!;
    const f = leaf >>> FRAME_SHIFT;
    if ((leaf & P) !== 0 && f < limit) sink += writeGate[f]! + srcVersion[f]!;
  }
  return sink;
}
