/**
 * The processor running a guest under EPT (Intel VT-x's extended page
 * tables), for trackers whose hardware check is one EPT permission per guest
 * page (HAP and PML, src/reducers/ept-gates.ts): the fused loop that walks
 * each access through the guest's tables, checks every guest-physical page
 * it touches against the EPT, counts the store for the oracle and moves the
 * vCPU's clock, all in one pass, and hands the hypervisor only what the EPT
 * refuses. Intel SDM vol. 3C, section 29.3: the guest's paging-structure
 * accesses are guest-physical accesses, so each table the walk reads is
 * checked like the page accessed; Xen's side of each refusal (an EPT
 * violation or misconfiguration, xen/arch/x86/mm/p2m-ept.c) is the
 * tracker's EptExitHandler.
 *
 * The MMU (src/reducers/mmu.ts) is the hardware's state and its slow paths:
 * this loop reads its tables and roots, fills and stamps rows of its
 * paging-structure cache, and hands it every store into a table and every
 * CR3 load. The clock and the oracle are not the MMU's: the loop is given
 * them (EptRun) and applies the clock's rule and the oracle's version bumps
 * itself.
 */
import type { GuestBatch } from '../events/guest-batch.js';
import { GuestEventKind } from '../events/guest-event-kind.js';
import { PTE_A, PTE_D, PTE_FLAG_BITS, PTE_P, PTE_PS, PTE_RW } from '../model/pte.js';
import { type EptGates, READ_GATE_SHIFT } from './ept-gates.js';
import type { Mmu } from './mmu.js';
import { TABLE_ENTRIES, TABLE_SHIFT } from './mmu-table-pool.js';
import { PSC_MASK, PSC_SHIFT } from './paging-structure-cache.js';
import type { VcpuClock } from './vcpu-clock.js';
import { TOUCH_AHEAD_EVENTS, touchLeafPages, touchLeaves } from './touch-ahead.js';

/** runUnderEpt ran every event of the batch. */
export const EPT_RUN_END = 0;
/** runUnderEpt stopped at an event whose wall time reaches the toolstack's next action. */
export const EPT_RUN_TIME = 1;
/**
 * runUnderEpt stopped at an event its inlined walk does not cover (a flag to
 * set, a fault, a 1 GiB page, a pt_write linking a table): the caller runs
 * that event through Mmu.applyRange and the tracker, then resumes.
 */
export const EPT_RUN_EXIT = 2;

/** What runUnderEpt needs from the rest of the machine, and why it stopped. */
export interface EptRun {
  gates: EptGates;
  clock: VcpuClock;
  /** The oracle's per-page store counts (PageOracle.srcVersion). */
  srcVersion: Uint32Array;
  stopAtWallNs: number;
  /** Out: EPT_RUN_END, EPT_RUN_TIME or EPT_RUN_EXIT. */
  stop: number;
  /** The look-ahead's column, TOUCH_AHEAD_EVENTS long (touch-ahead.ts). */
  readonly scratch: Int32Array;
}

// Module-local copies of imported constants for the loop: with Node 20,
// reading the imported bindings there measured 10-15% slower.
const P = PTE_P;
const A = PTE_A;
const D = PTE_D;
const RW = PTE_RW;
const PRESENT_OR_PS = PTE_P | PTE_PS;
const SHIFT = TABLE_SHIFT;
const ENTRIES = TABLE_ENTRIES;
const FRAME_SHIFT = PTE_FLAG_BITS;
const ROW_MASK = PSC_MASK;
const ROW_SHIFT = PSC_SHIFT;
const READ_SHIFT = READ_GATE_SHIFT;
const KIND_READ = GuestEventKind.read;
const KIND_PT_WRITE = GuestEventKind.ptWrite;
const KIND_CR3_LOAD = GuestEventKind.cr3Load;
const KIND_PHYS_WRITE = GuestEventKind.physWrite;
const KIND_IDLE = GuestEventKind.idle;

/**
 * The processor running a vCPU under EPT, from event `from` on: each
 * access is walked (as walkX86_64 walks it) and checked against the EPT
 * for every guest page it touches, the page-table pages the walk reads
 * and the page accessed, as the hardware checks them (Intel SDM vol. 3C,
 * 29.3: guest paging-structure accesses are guest-physical accesses). While
 * the EPT allows everything, nothing else is involved: the store is counted
 * for the oracle and the vCPU's clock moves on. The loop stops at the first
 * event whose wall time reaches the toolstack's next action (the MMU has not
 * run it), or at the first the EPT refuses or the inlined walk does not
 * finish (not run either: the caller takes it through applyRange and the
 * tracker). The same per-event work as applyRange plus Tracker.process,
 * in one pass: for HAP and PML on apache, two passes cost about half as
 * much again.
 *
 * Unthrottled clocks only (Simulation checks): the clock's unthrottled rule
 * (VcpuClock.wallNs) notes each vCPU's last event, and the loop settles the
 * clock when it stops, as Tracker.process does. The rule is written out here
 * over locals, one of its two copies outside vcpu-clock.ts (the other in
 * ShadowTracker.processShadow): called, V8 inlined it but kept the wall time boxed, a heap number per event (12 MB of garbage per
 * 10 s apache run by the sampling heap profiler, 0.8 MB written out), and
 * HAP ran 1.08x slower than before the clock had its own file. The
 * reference-path test (test/reducers/ept-loop.test.ts) holds the two to the
 * same run events, byte for byte.
 *
 * Event times are summed here from dtNs, starting at tNs[from - 1] (the
 * batch's base for event 0), and stored in tNs for every event reached,
 * the one it stops at included: a separate pass over the batch was 32
 * instructions per event, 6% of a HAP run's.
 *
 * Its walk repeats walkX86_64's (walk-x86-64.ts) line for line, the gate
 * stamp apart: a change to one is a change to both. Taken out into a shared
 * method it measured 11-13 % slower (MMU alone and HAP), V8 not inlining
 * it. The upper levels alone, as a function both loops called on a cache
 * miss (427 bytes of bytecode, under V8's 460-byte inlining limit),
 * measured about 6% slower for HAP and 11% for the MMU alone (A/B, 30
 * runs in both orders, on a busy machine): V8 inlined it into walkX86_64
 * but not reliably here, where the pt_write path and the exit handlers
 * take the inlining budget.
 */
export function runUnderEpt(mmu: Mmu, batch: GuestBatch, from: number, tNs: Float64Array, run: EptRun): number {
  const n = batch.count;
  const kindCol = batch.kind;
  const vcpuCol = batch.vcpu;
  const pageCol = batch.page;
  const argCol = batch.arg;
  const pteCol = batch.pte;
  const rootOfVcpu = mmu.rootOfVcpu;
  const pool = mmu.pool;
  const slotOfPfn = pool.slotOfPfn;
  const slotOfFrame = pool.slotOfFrame;
  const frameLimit = mmu.frameLimit;
  const m2p = mmu.m2p;
  const liveMask = mmu.census.liveMask;
  const memPages = mmu.memPages;
  const pscCache = mmu.psc;
  const psc = pscCache.rows;
  let tag = pscCache.tag;
  let entries = pool.entries;
  let entryPfn = pool.entryPfn;
  const gates = run.gates;
  const epoch = gates.epoch;
  const writeGate = gates.write;
  const readGate = gates.read;
  const walkGate = gates.walk;
  const walkShift = gates.walkShift;
  const cr3Exits = gates.cr3Exits;
  const stamp = pscCache.gateStamp(walkGate, walkShift, gates.epochCount);
  const clock = run.clock;
  const stallNs = clock.stallNs;
  const notBeforeNs = clock.notBeforeNs;
  const pausedFromNs = clock.pausedFromNs;
  // Pauses come between loops (the toolstack's), never from an exit handler.
  const notBeforeMaxNs = clock.notBeforeMaxNs;
  const lastEventAt = clock.lastEventAt;
  const vcpus = clock.vcpus;
  let latest = clock.latestNs;
  clock.beginLoop(kindCol);
  const stopAtWallNs = run.stopAtWallNs;
  // The oracle's source versions (DESIGN section 8): each store the guest
  // makes bumps its page's version here, inline when the EPT lets it
  // through, or just before the exit when it refuses it.
  const srcVersion = run.srcVersion;
  let why = EPT_RUN_END;
  let walks = 0;
  const dtCol = batch.dtNs;
  // Read on every call, not only when from is 0: a batch's first call
  // comes before V8 keeps feedback for this function, so the read had
  // none when it was first optimised, and the next batch deoptimised it.
  let g = batch.baseNs;
  if (from > 0) g = tNs[from - 1]!;
  let i = from;
  // The look-ahead (touch-ahead.ts), for large guests: events before `ahead` have had their lines loaded.
  let ahead = mmu.lookAhead ? from : n;
  const scratch = run.scratch;
  // A PV guest's frames are machine frames, not the pfns the gates are indexed by.
  const pageLimit = entryPfn === undefined ? frameLimit : 0;
  try {
    for (; i < n; i++) {
      if (i === ahead) {
        ahead = i + TOUCH_AHEAD_EVENTS < n ? i + TOUCH_AHEAD_EVENTS : n;
        touchLeafPages(scratch, touchLeaves(kindCol, vcpuCol, pageCol, i, ahead, rootOfVcpu, psc, tag, entries, scratch), pageLimit, writeGate, srcVersion);
      }
      const v = vcpuCol[i]!;
      g += dtCol[i]!;
      tNs[i] = g;
      // VcpuClock.wallNs's rule, unthrottled, written out over locals.
      let wall: number;
      if (v < vcpus) {
        wall = g + stallNs[v]!;
        if (wall < notBeforeMaxNs) {
          const nb = notBeforeNs[v]!;
          if (wall < nb && wall >= pausedFromNs[v]!) {
            if (nb >= stopAtWallNs) {
              why = EPT_RUN_TIME;
              break;
            }
            wall = nb;
            stallNs[v] = wall - g;
          }
        }
        if (wall >= stopAtWallNs) {
          why = EPT_RUN_TIME;
          break;
        }
        lastEventAt[v] = i;
      } else {
        wall = g > latest ? g : latest;
        if (wall >= stopAtWallNs) {
          why = EPT_RUN_TIME;
          break;
        }
      }
      if (wall > latest) latest = wall;
      const kind = kindCol[i]!;
      // What the EPT refuses of this event, and the page it refuses: every
      // exit is taken in one place below. (Calls that pass the wall time
      // from several branches made V8 box it on every event.)
      let refused = 0;
      let pfn = 0;
      let isWrite = 1;
      // The tables the walk read (for a 2 MiB page, which reads no leaf
      // table, t1 repeats the root), whether any of their walk gates
      // refuses, and the cache row to stamp when none does.
      let root = -1;
      let t3 = -1;
      let t2 = -1;
      let t1 = -1;
      let walkRefused = 0;
      if (kind <= KIND_READ) {
        isWrite = kind ^ 1;
        const vpn = pageCol[i]!;
        root = rootOfVcpu[v]!;
        if (root < 0) break;
        let leaf: number;
        let upper: number;
        let f: number;
        let stampRow = -1;
        const key = vpn >> 9;
        const h = ((key ^ (root << 5)) & ROW_MASK) << ROW_SHIFT;
        if (psc[h] === (root | tag) && psc[h + 1] === key) {
          const o1 = (psc[h + 3]! << SHIFT) | (vpn & 511);
          leaf = entries[o1]!;
          f = leaf >>> FRAME_SHIFT;
          if ((leaf & P) === 0 || f >= frameLimit) break;
          pfn = entryPfn === undefined ? f : entryPfn[o1]!;
          upper = psc[h + 7]!;
          if (psc[h + 2] !== stamp) {
            t3 = psc[h + 4]!;
            t2 = psc[h + 5]!;
            t1 = psc[h + 6]!;
            stampRow = h;
          }
        } else {
          const o4 = (slotOfPfn[root]! << SHIFT) | ((vpn >> 27) & 511);
          const e4 = entries[o4]!;
          f = e4 >>> FRAME_SHIFT;
          if ((e4 & PRESENT_OR_PS) !== P || f >= frameLimit) break;
          const s3 = slotOfFrame[f]!;
          if (s3 <= 0) break;
          t3 = entryPfn === undefined ? f : entryPfn[o4]!;
          const o3 = (s3 << SHIFT) | ((vpn >> 18) & 511);
          const e3 = entries[o3]!;
          f = e3 >>> FRAME_SHIFT;
          if ((e3 & PRESENT_OR_PS) !== P || f >= frameLimit) break;
          const s2 = slotOfFrame[f]!;
          if (s2 <= 0) break;
          t2 = entryPfn === undefined ? f : entryPfn[o3]!;
          const o2 = (s2 << SHIFT) | ((vpn >> 9) & 511);
          const e2 = entries[o2]!;
          f = e2 >>> FRAME_SHIFT;
          if ((e2 & PRESENT_OR_PS) === P) {
            if (f >= frameLimit) break;
            const s1 = slotOfFrame[f]!;
            if (s1 <= 0) break;
            t1 = entryPfn === undefined ? f : entryPfn[o2]!;
            upper = e4 & e3 & e2;
            psc[h] = root | tag;
            psc[h + 1] = key;
            psc[h + 2] = 0;
            psc[h + 3] = s1;
            psc[h + 4] = t3;
            psc[h + 5] = t2;
            psc[h + 6] = t1;
            psc[h + 7] = upper;
            const o1 = (s1 << SHIFT) | (vpn & 511);
            leaf = entries[o1]!;
            f = leaf >>> FRAME_SHIFT;
            if ((leaf & P) === 0 || f >= frameLimit) break;
            pfn = entryPfn === undefined ? f : entryPfn[o1]!;
            stampRow = h;
          } else if ((e2 & PRESENT_OR_PS) === PRESENT_OR_PS && (f & 511) === 0) {
            f += vpn & 511;
            if (f >= frameLimit) break;
            pfn = m2p === undefined ? f : m2p[f]!;
            leaf = e2;
            upper = e4 & e3;
            t1 = root;
          } else break;
        }
        if (pfn < 0) break;
        if (t1 >= 0) {
          walkRefused =
            (walkGate[root >>> walkShift]! ^ epoch) |
            (walkGate[t3 >>> walkShift]! ^ epoch) |
            (walkGate[t2 >>> walkShift]! ^ epoch) |
            (walkGate[t1 >>> walkShift]! ^ epoch);
          if (walkRefused === 0 && stampRow >= 0) psc[stampRow + 2] = stamp;
        }
        const upperNeed = A | (isWrite * RW);
        const leafNeed = upperNeed | (isWrite * D);
        if ((((upper & upperNeed) ^ upperNeed) | ((leaf & leafNeed) ^ leafNeed)) !== 0) break;
        // The EPT: every table the walk read, then the page accessed.
        refused = walkRefused | (isWrite !== 0 ? writeGate[pfn]! ^ epoch : readGate[pfn >>> READ_SHIFT]! ^ epoch);
        walks++;
        // oracle: a store the EPT lets through bumps the page's source version.
        if (refused === 0 && isWrite !== 0) srcVersion[pfn] = srcVersion[pfn]! + 1;
      } else if (kind === KIND_PT_WRITE) {
        const page = pageCol[i]!;
        const index = argCol[i]!;
        if (!(page >= 0 && page < memPages) || index < 0 || index >= ENTRIES) throw mmu.badPtWrite(i, page, index);
        const live = liveMask[page]!;
        if (live > 1) {
          why = EPT_RUN_EXIT;
          break;
        }
        mmu.ptWriteUnlinked(page, index, pteCol[i]!, live);
        entries = pool.entries;
        entryPfn = pool.entryPfn;
        pfn = page;
        refused = writeGate[page]! ^ epoch;
        // oracle: the store bumps the page's source version.
        if (refused === 0) srcVersion[page] = srcVersion[page]! + 1;
      } else if (kind === KIND_IDLE) {
        // Only the clock moves (settled below).
      } else if (kind === KIND_CR3_LOAD && !cr3Exits) {
        mmu.loadCr3(batch, i);
        tag = pscCache.tag;
      } else if (kind === KIND_PHYS_WRITE) {
        const page = pageCol[i]!;
        mmu.checkPfn(i, page, 'phys_write');
        pfn = page;
        refused = writeGate[page]! ^ epoch;
        // oracle: the store bumps the page's source version.
        if (refused === 0) srcVersion[page] = srcVersion[page]! + 1;
      } else {
        why = EPT_RUN_EXIT;
        break;
      }
      if (refused !== 0) {
        // Exits, in the order the processor meets them; each handler
        // may open the next gate (a region recalculated once), so each
        // is checked again.
        const handler = gates.handler;
        clock.latestNs = latest;
        if (walkRefused !== 0) {
          if (walkGate[root >>> walkShift] !== epoch) handler.walkRefused(root, v, wall);
          if (walkGate[t3 >>> walkShift] !== epoch) handler.walkRefused(t3, v, wall);
          if (walkGate[t2 >>> walkShift] !== epoch) handler.walkRefused(t2, v, wall);
          if (walkGate[t1 >>> walkShift] !== epoch) handler.walkRefused(t1, v, wall);
        }
        if (isWrite !== 0) {
          // oracle: the store bumps the page's source version (before its exit, as in Tracker.process).
          srcVersion[pfn] = srcVersion[pfn]! + 1;
          if (writeGate[pfn] !== epoch) handler.storeRefused(pfn, v, wall);
        } else if (readGate[pfn >>> READ_SHIFT] !== epoch) handler.loadRefused(pfn, v, wall);
      }
    }
    // A walk the inlined path does not finish (flags to set, a fault...)
    // broke out with why still END: the caller runs it.
    if (i < n && why === EPT_RUN_END) why = EPT_RUN_EXIT;
  } finally {
    mmu.countWalks(walks);
    clock.latestNs = latest;
    clock.settle(batch, tNs);
  }
  run.stop = why;
  return i;
}
