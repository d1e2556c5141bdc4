import type { GuestBatch } from '../events/guest-batch.js';
import { GUEST_EVENT_KIND_COUNT, GUEST_EVENT_KIND_NAMES, GuestEventKind as G, NO_VCPU } from '../events/guest-event-kind.js';
import type { RunBatch } from '../events/run-batch.js';
import { MAX_COST_HIGH } from '../events/run-cost.js';
import { RUN_EVENT_KIND_NAMES, RunEventKind as R } from '../events/run-event-kind.js';
import { PAGE_BYTES } from '../model/guest-config.js';
import { NARROW_FRAMES, PTE_FLAG_BITS, PTE_HIGH_SHIFT, PTE_P } from '../model/pte.js';
import { isConstantColumn } from './column-constant.js';
import type { TraceHeader } from './trace-records.js';

// Module-local copies of imported constants for the per-event loop (as
// ept-run.ts has them: Node 20 reads imported bindings there more slowly).
const NONE = NO_VCPU;
const P = PTE_P;
const FRAME_SHIFT = PTE_FLAG_BITS;

/** Events a chunk may hold: far above any chunk migsim writes, below what a corrupted count would make us allocate. */
export const MAX_CHUNK_EVENTS = 1 << 24;

/** Entries in a page table (x86-64 and PAE's L2 and L1; PAE's L3 uses 4 of them). */
const TABLE_ENTRIES = 512;
/** A PAE guest's virtual address is 32 bits: 20 bits of vpn. */
const PAE_VPN_BITS = 20;
/**
 * The PTE (src/model/pte.ts) is 32 bits: flags, then a 24-bit frame. Frames
 * of a guest of at most 16 GiB (22 bits, the layout before 0.1.0 widened it)
 * leave bits 30 and 31 clear, present entry or not, and a trace of such a
 * guest that sets them is refused as before; above, they are frame bits and
 * the frame limit is the check.
 */
function pteUnusedBits(frameLimit: number): number {
  return frameLimit <= 1 << 22 ? ~((1 << 30) - 1) : 0;
}
/** A throttle step is a percentage. */
const MAX_THROTTLE_PCT = 100;
/** A tick carries the longest gap one delta holds (src/events/run-batch-builder.ts). */
const TICK_DT_NS = 0xffff_ffff;

/** What is wrong with a chunk: the event (-1: the chunk as a whole) and why. */
export interface ChunkProblem {
  readonly event: number;
  readonly problem: string;
}

/**
 * Checks each chunk's events against the header and each other before any
 * reader hands them on, so that nothing migsim could not have written
 * reaches a reducer, a report or an export: kinds are known, vCPUs and
 * pages are within the guest, unused columns are zero, PTEs fit the
 * model's layout, run events' round and epoch numbers follow each other,
 * and a cost_high follows the event it extends. It also counts events by
 * kind, for the footer's counts to be compared with.
 *
 * The checks are passes over the typed-array columns with no allocation
 * per event; they only find the first bad event, and a second, cold pass
 * says why.
 */
export class ChunkCheck {
  readonly guestByKind = new Float64Array(GUEST_EVENT_KIND_COUNT);
  readonly runByKind = new Float64Array(RUN_EVENT_KIND_NAMES.length);
  private readonly memPages: number;
  private readonly vcpus: number;
  /** Bits a vpn must not have (PAE: those above 20; x86-64: none, the sign carries the upper half). */
  private readonly vpnHighBits: number;
  /** Frames a present PTE may name: a pfn for HVM, an mfn of the host (twice the guest, src/model/p2m-map.ts) for PV. */
  private readonly frameLimit: number;
  private readonly unusedBits: number;
  /** PTEs of two words: the high one in a pt_write's arg. */
  private readonly wideFrames: boolean;
  private readonly chunkEvents: number;
  private readonly runTrace: boolean;
  /** By guest event kind (256 entries): 1 for a kind that exists, the greatest page and arg (unsigned) it may carry, whether it may have no vCPU, whether it carries a PTE. */
  private readonly known = new Uint8Array(256);
  private readonly pageMax = new Uint32Array(256);
  private readonly argMax = new Uint32Array(256);
  private readonly noVcpuKind = new Uint8Array(256);
  private readonly ptKind = new Uint8Array(256);
  /** A column's min and max, reused (int32Range). */
  private readonly range = new Float64Array(2);
  /** Rounds ended so far: the round number every round event must carry. */
  private roundsEnded = 0;
  private epochs = 0;

  constructor(h: TraceHeader) {
    this.memPages = h.guest.memPages;
    this.vcpus = h.guest.vcpus;
    this.vpnHighBits = h.guest.paging === 'pae' ? ~((1 << PAE_VPN_BITS) - 1) : 0;
    this.frameLimit = h.guest.type === 'pv' ? 2 * h.guest.memPages : h.guest.memPages;
    this.unusedBits = pteUnusedBits(this.frameLimit);
    this.wideFrames = this.frameLimit > NARROW_FRAMES;
    this.chunkEvents = h.chunkEvents;
    this.runTrace = h.traceKind === 'run';
    // A vpn is any Int32 on x86-64 (the sign carries the upper half), below 2^20 on PAE.
    const vpnEnd = h.guest.paging === 'pae' ? 2 ** PAE_VPN_BITS : 2 ** 32;
    const bounds: [number, number, number][] = [
      [G.write, vpnEnd, PAGE_BYTES + 1],
      [G.read, vpnEnd, 1],
      // A guest over 2^24 frames carries a PTE's high word in arg, above the index (src/model/pte.ts).
      [G.ptWrite, this.memPages, this.wideFrames ? TABLE_ENTRIES * (Math.floor((this.frameLimit - 1) / NARROW_FRAMES) + 1) : TABLE_ENTRIES],
      [G.cr3Load, this.memPages, 1],
      [G.physWrite, this.memPages, PAGE_BYTES + 1],
      [G.idle, 1, 1],
    ];
    for (const [k, pageEnd, argEnd] of bounds) {
      this.known[k] = 1;
      this.pageMax[k] = pageEnd - 1;
      this.argMax[k] = argEnd - 1;
    }
    this.noVcpuKind[G.physWrite] = 1;
    this.noVcpuKind[G.idle] = 1;
    this.ptKind[G.ptWrite] = 1;
  }

  guest(b: GuestBatch): ChunkProblem | undefined {
    if (b.count > this.chunkEvents) return { event: -1, problem: `chunk of ${b.count} guest events, more than the header's chunkEvents ${this.chunkEvents}` };
    const n = b.count;
    // Most chunks of most workloads hold one kind (hot-set's phys_writes,
    // an idle stretch): each column is then checked on its own, by a
    // native comparison when it is one value throughout or by a min/max
    // pass, at a fraction of the per-event test below.
    if (isConstantColumn(b.kind, n) && this.uniformKindOk(b)) {
      this.guestByKind[b.kind[0]!]! += n;
      return undefined;
    }
    let bad = this.firstBadEvent(b);
    if (bad < 0 && this.wideFrames) bad = this.wideFrameProblem(b);
    if (bad >= 0) return { event: bad, problem: this.guestProblem(b, bad) };
    countKinds(b.kind, n, this.guestByKind);
    return undefined;
  }

  /**
   * The first event of `b` outside the bounds, or -1. One pass, its tests
   * table-driven by kind: page and arg compared unsigned with the greatest
   * each kind may carry (a negative value is then past any bound; Uint32
   * tables keep the comparison in integers: about 5 ns an event on
   * apache's chunks, the loop alone over chunks in the cache, against 5.5
   * to 7 with a Float64Array of ends), a kind that does not exist refused,
   * and only a pt_write may have a PTE.
   *
   * A function of the loop alone, which ends on the loop: V8 (Node 20)
   * compiles a loop this long on stack replacement during its first call,
   * before any code after the loop has run, and kept that code for every
   * later call, each of which then left it at the first line after the
   * loop for want of type feedback there (--trace-deopt: 533
   * deoptimisations in six reads of 60 s of apache; none now). The read's
   * time did not change measurably: the loop itself ran optimised.
   */
  private firstBadEvent(b: GuestBatch): number {
    const { kind, vcpu, page, arg, pte } = b;
    const n = b.count;
    const vcpus = this.vcpus;
    const frameLimit = this.frameLimit;
    const unusedBits = this.unusedBits;
    const known = this.known;
    const pageMax = this.pageMax;
    const argMax = this.argMax;
    const noVcpu = this.noVcpuKind;
    const ptKind = this.ptKind;
    for (let i = 0; i < n; i++) {
      const k = kind[i]!;
      if (known[k] === 0 || page[i]! >>> 0 > pageMax[k]! || arg[i]! >>> 0 > argMax[k]!) return i;
      const v = vcpu[i]!;
      if (v >= vcpus && (v !== NONE || noVcpu[k] === 0)) return i;
      const e = pte[i]!;
      if (e !== 0 && (ptKind[k] === 0 || (e & unusedBits) !== 0 || ((e & P) !== 0 && e >>> FRAME_SHIFT >= frameLimit))) return i;
    }
    return -1;
  }

  /** A wide guest's chunk: the first pt_write whose present PTE, both words, names a frame past the guest's; -1 if none. */
  private wideFrameProblem(b: GuestBatch): number {
    for (let i = 0; i < b.count; i++) {
      if (b.kind[i] !== G.ptWrite || (b.pte[i]! & PTE_P) === 0) continue;
      if ((b.pte[i]! >>> PTE_FLAG_BITS) + (b.arg[i]! >>> PTE_HIGH_SHIFT) * NARROW_FRAMES >= this.frameLimit) return i;
    }
    return -1;
  }

  /**
   * True when every event of `b`, all of one kind, passes the per-event
   * test of `guest`: the same bounds, taken column by column. False sends
   * the chunk through the per-event test, which finds the event and why.
   */
  private uniformKindOk(b: GuestBatch): boolean {
    const n = b.count;
    const k = b.kind[0]!;
    if (this.known[k] === 0) return false;
    const range = this.range;
    int32Range(b.page, n, range);
    if (range[0]! < 0 ? this.pageMax[k] !== 0xffff_ffff : range[1]! > this.pageMax[k]!) return false;
    int32Range(b.arg, n, range);
    if (range[0]! < 0 || range[1]! > this.argMax[k]!) return false;
    const maxVcpu = isConstantColumn(b.vcpu, n) ? b.vcpu[0]! : uint16Max(b.vcpu, n);
    if (maxVcpu >= this.vcpus && (this.noVcpuKind[k] === 0 || !vcpusOrNone(b.vcpu, n, this.vcpus))) return false;
    if (this.ptKind[k] === 0) return isConstantColumn(b.pte, n) && b.pte[0] === 0;
    const pte = b.pte;
    const frameLimit = this.frameLimit;
    const unusedBits = this.unusedBits;
    for (let i = 0; i < n; i++) {
      const e = pte[i]!;
      if ((e & unusedBits) !== 0 || ((e & PTE_P) !== 0 && e >>> PTE_FLAG_BITS >= frameLimit)) return false;
    }
    if (this.wideFrames && this.wideFrameProblem(b) >= 0) return false;
    return true;
  }

  run(b: RunBatch): ChunkProblem | undefined {
    if (!this.runTrace) return { event: -1, problem: 'a workload trace (guest events only) holds a chunk of run events' };
    const { kind, dtNs, vcpu, page, arg, costNs } = b;
    const n = b.count;
    const memPages = this.memPages;
    const vcpus = this.vcpus;
    let rounds = this.roundsEnded;
    let epochs = this.epochs;
    let bad = -1;
    for (let i = 0; i < n; i++) {
      const k = kind[i]!;
      const v = vcpu[i]!;
      const p = page[i]!;
      const a = arg[i]!;
      let ok = v < vcpus || v === NO_VCPU;
      switch (k) {
        case R.shadowFault:
        case R.ptEmulate:
        case R.shadowRebuild:
        case R.npfExit:
        case R.misconfigExit:
        case R.pmlFullExit:
        case R.superpageSplit:
        case R.postcopyFault:
        case R.oosResync:
        case R.cr3Exit:
        case R.divergence:
          ok &&= p >= -1 && p < memPages && a >= 0;
          break;
        case R.logdirtyEnable:
        case R.peek:
        case R.clean:
        case R.final:
        case R.off:
          ok &&= v === NO_VCPU && p === -1 && a >= 0;
          break;
        case R.roundStart:
          ok &&= v === NO_VCPU && p === rounds && a === 0;
          break;
        case R.roundEnd:
          ok &&= v === NO_VCPU && p === rounds && a >= 0;
          if (ok) rounds++;
          break;
        case R.pagesSent:
          ok &&= v === NO_VCPU && p === rounds && a >= 0;
          break;
        case R.suspend:
        case R.resume:
          ok &&= v === NO_VCPU && p === rounds && a === 0;
          break;
        case R.canonicalise:
          ok &&= v === NO_VCPU && p >= 0 && p <= memPages && a >= 0;
          break;
        case R.bitmapSync:
          ok &&= v === NO_VCPU && p === rounds && a >= 0 && a <= memPages;
          break;
        case R.throttle:
          ok &&= v === NO_VCPU && p === -1 && a >= 0 && a <= MAX_THROTTLE_PCT;
          break;
        // KVM's: what a vCPU takes (a kick, a ring-full exit, a dirty-limit sleep), and QEMU's threads' ioctls.
        case R.kickExit:
        case R.dirtyRingFullExit:
        case R.dirtyLimitSleep:
          ok &&= v < vcpus && p === -1 && a >= 0;
          break;
        case R.dirtyLogClear:
          ok &&= v === NO_VCPU && p >= 0 && p < memPages && a >= 0;
          break;
        case R.dirtyRingReap:
          ok &&= v === NO_VCPU && p === -1 && a >= 0;
          break;
        case R.checkpointEpoch:
          ok &&= v === NO_VCPU && p === epochs && a >= 0 && a <= memPages;
          if (ok) epochs++;
          break;
        case R.tick:
          ok &&= v === NO_VCPU && p === -1 && a === 0 && costNs[i] === 0 && dtNs[i] === TICK_DT_NS;
          break;
        case R.costHigh: {
          const before = i > 0 ? kind[i - 1]! : R.tick;
          ok &&= before !== R.tick && before !== R.costHigh && dtNs[i] === 0 && v === NO_VCPU && p === -1 && a === 0 && costNs[i]! >= 1 && costNs[i]! <= MAX_COST_HIGH;
          break;
        }
        default:
          ok = false;
      }
      if (!ok) {
        bad = i;
        break;
      }
    }
    if (bad >= 0) return { event: bad, problem: this.runProblem(b, bad, rounds, epochs) };
    this.roundsEnded = rounds;
    this.epochs = epochs;
    countKinds(kind, n, this.runByKind);
    return undefined;
  }

  /** Why guest event i is not one migsim writes (the cold path: the loop found it). */
  private guestProblem(b: GuestBatch, i: number): string {
    const k = b.kind[i]!;
    const name = GUEST_EVENT_KIND_NAMES[k];
    if (name === undefined) return `unknown guest event kind ${k} (known: 0 to ${GUEST_EVENT_KIND_COUNT - 1})`;
    const v = b.vcpu[i]!;
    const p = b.page[i]!;
    const a = b.arg[i]!;
    const e = b.pte[i]!;
    const noVcpu = k === G.physWrite || k === G.idle;
    if (!(v < this.vcpus || (noVcpu && v === NO_VCPU))) return `${name} on vCPU ${v}, but the guest has ${this.vcpus} vCPUs`;
    const what = `${name} (vCPU ${v}, page ${p}, arg ${a}, pte ${e})`;
    switch (k) {
      case G.write:
      case G.read:
        if ((p & this.vpnHighBits) !== 0) return `${what}: vpn ${p} is beyond a PAE guest's 32-bit addresses (vpn < 2^20)`;
        if (k === G.write && !(a >= 0 && a <= PAGE_BYTES)) return `${what}: a store of ${a} bytes into one 4 KiB page`;
        break;
      case G.ptWrite:
        if (!(p >= 0 && p < this.memPages)) return `${what}: page-table pfn ${p} is outside the guest's ${this.memPages} pages`;
        if (this.wideFrames) {
          if (!(a >= 0 && a <= this.argMax[G.ptWrite]!)) return `${what}: arg ${a} is not an entry index (0 to 511) with a frame's high word above it (frames below ${this.frameLimit})`;
        } else if (!(a >= 0 && a < TABLE_ENTRIES)) return `${what}: entry index ${a}, but a table has 0 to ${TABLE_ENTRIES - 1}`;
        if ((e & this.unusedBits) !== 0) return `${what}: the PTE sets bits 30 or 31, which no frame of a guest of at most 16 GiB has`;
        return `${what}: the present PTE names frame ${(e >>> PTE_FLAG_BITS) + (this.wideFrames ? (a >>> PTE_HIGH_SHIFT) * NARROW_FRAMES : 0)}, outside the ${this.frameLimit} frames of the ${this.frameLimit === this.memPages ? 'guest' : 'host'}`;
      case G.cr3Load:
      case G.physWrite:
        if (!(p >= 0 && p < this.memPages)) return `${what}: pfn ${p} is outside the guest's ${this.memPages} pages`;
        if (k === G.physWrite && !(a >= 0 && a <= PAGE_BYTES)) return `${what}: a store of ${a} bytes into one 4 KiB page`;
        break;
    }
    return `${what}: a field this kind does not use is not zero`;
  }

  /** Why run event i is not one migsim writes; `rounds` and `epochs` as they were before it. */
  private runProblem(b: RunBatch, i: number, rounds: number, epochs: number): string {
    const k = b.kind[i]!;
    const name = RUN_EVENT_KIND_NAMES[k];
    if (name === undefined) return `unknown run event kind ${k} (known: 0 to ${RUN_EVENT_KIND_NAMES.length - 1})`;
    const v = b.vcpu[i]!;
    const p = b.page[i]!;
    const a = b.arg[i]!;
    const what = `${name} (vCPU ${v === NO_VCPU ? 'none' : v}, page ${p}, arg ${a}, cost ${b.costNs[i]!} ns)`;
    if (!(v < this.vcpus || v === NO_VCPU)) return `${what}: vCPU ${v}, but the guest has ${this.vcpus} vCPUs`;
    switch (k) {
      case R.roundStart:
      case R.roundEnd:
      case R.pagesSent:
      case R.suspend:
      case R.resume:
      case R.bitmapSync:
        if (p !== rounds) return `${what}: round ${p}, but ${rounds} rounds have ended, so the round under way is ${rounds}`;
        break;
      case R.checkpointEpoch:
        if (p !== epochs) return `${what}: epoch ${p}, but ${epochs} epochs came before it`;
        if (a > this.memPages) return `${what}: ${a} dirty pages, more than the guest's ${this.memPages}`;
        break;
      case R.costHigh:
        return `${what}: a cost_high must follow, in its chunk, the event whose cost it extends, with no time of its own and a high word of 1 to ${MAX_COST_HIGH}`;
      case R.tick:
        return `${what}: a tick only carries ${TICK_DT_NS} ns of time`;
      case R.throttle:
        if (a > MAX_THROTTLE_PCT) return `${what}: a throttle of ${a}%`;
        break;
      default:
        if (p < -1 || p >= this.memPages) return `${what}: pfn ${p} is outside the guest's ${this.memPages} pages`;
    }
    if (a < 0) return `${what}: a negative count`;
    return `${what}: not a ${name} event migsim writes (a domain-wide event has no vCPU, and fields it does not use are -1 or 0)`;
  }
}

/** Four histograms of kinds, interleaved by event (countKinds). */
const kindScratch = new Int32Array(4 * 256);

/**
 * Adds a chunk's events to the counts by kind: a kind column that is one
 * value throughout in one step, else by four histograms that take every
 * fourth event each. One histogram would chain each increment on the one
 * before when neighbours share a kind (the usual case): 2.7 ns an event on
 * apache's chunks against 0.6 ns for four.
 */
function countKinds(kind: Uint8Array, n: number, counts: Float64Array): void {
  if (isConstantColumn(kind, n)) {
    counts[kind[0]!]! += n;
    return;
  }
  const h = kindScratch;
  h.fill(0);
  const whole = n & ~3;
  histogramKinds(kind, whole, h);
  for (let i = whole; i < n; i++) h[kind[i]!]!++;
  for (let k = 0; k < 256; k++) {
    const c = h[k]! + h[256 + k]! + h[512 + k]! + h[768 + k]!;
    if (c !== 0) counts[k]! += c;
  }
}

/** The four histograms of the first `n` kinds (a multiple of 4): a function of its loop alone, as ChunkCheck.firstBadEvent is and for its reason. */
function histogramKinds(kind: Uint8Array, n: number, h: Int32Array): void {
  for (let i = 0; i < n; i += 4) {
    h[kind[i]!]!++;
    h[256 + kind[i + 1]!]!++;
    h[512 + kind[i + 2]!]!++;
    h[768 + kind[i + 3]!]!++;
  }
}

/** The least and greatest of an Int32 column's first n values, into out[0] and out[1] (a native comparison when it is one value). */
function int32Range(col: Int32Array, n: number, out: Float64Array): void {
  if (isConstantColumn(col, n)) {
    out[0] = out[1] = col[0]!;
    return;
  }
  let min = col[0]!;
  let max = min;
  for (let i = 1; i < n; i++) {
    const v = col[i]!;
    if (v < min) min = v;
    if (v > max) max = v;
  }
  out[0] = min;
  out[1] = max;
}

function uint16Max(col: Uint16Array, n: number): number {
  let max = 0;
  for (let i = 0; i < n; i++) if (col[i]! > max) max = col[i]!;
  return max;
}

/** True when each of the first n vCPUs is below `vcpus` or none (NO_VCPU). */
function vcpusOrNone(col: Uint16Array, n: number, vcpus: number): boolean {
  for (let i = 0; i < n; i++) if (col[i]! >= vcpus && col[i] !== NO_VCPU) return false;
  return true;
}
