import type { GuestBatch } from '../events/guest-batch.js';
import { GUEST_EVENT_KIND_COUNT, GUEST_EVENT_KIND_NAMES, GuestEventKind as G, NO_VCPU } from '../events/guest-event-kind.js';
import type { RunBatch } from '../events/run-batch.js';
import { MAX_COST_HIGH } from '../events/run-cost.js';
import { RUN_EVENT_KIND_NAMES, RunEventKind as R } from '../events/run-event-kind.js';
import { PAGE_BYTES } from '../model/guest-config.js';
import { PTE_FLAG_BITS, PTE_P } from '../model/pte.js';
import type { TraceHeader } from './trace-records.js';

/** Events a chunk may hold: far above any chunk migsim writes, below what a corrupted count would make us allocate. */
export const MAX_CHUNK_EVENTS = 1 << 24;

/** Entries in a page table (x86-64 and PAE's L2 and L1; PAE's L3 uses 4 of them). */
const TABLE_ENTRIES = 512;
/** A PAE guest's virtual address is 32 bits: 20 bits of vpn. */
const PAE_VPN_BITS = 20;
/** The PTE (src/model/pte.ts) is 30 bits: flags, then a 22-bit frame. Bits 30 and 31 are never set. */
const PTE_UNUSED_BITS = ~((1 << 30) - 1);
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
 * The loops are one pass over the typed-array columns with no allocation;
 * they only find the first bad event, and a second, cold pass says why.
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
  private readonly chunkEvents: number;
  private readonly runTrace: boolean;
  /** Rounds ended so far: the round number every round event must carry. */
  private roundsEnded = 0;
  private epochs = 0;

  constructor(h: TraceHeader) {
    this.memPages = h.guest.memPages;
    this.vcpus = h.guest.vcpus;
    this.vpnHighBits = h.guest.paging === 'pae' ? ~((1 << PAE_VPN_BITS) - 1) : 0;
    this.frameLimit = h.guest.type === 'pv' ? 2 * h.guest.memPages : h.guest.memPages;
    this.chunkEvents = h.chunkEvents;
    this.runTrace = h.traceKind === 'run';
  }

  guest(b: GuestBatch): ChunkProblem | undefined {
    if (b.count > this.chunkEvents) return { event: -1, problem: `chunk of ${b.count} guest events, more than the header's chunkEvents ${this.chunkEvents}` };
    const { kind, vcpu, page, arg, pte } = b;
    const n = b.count;
    const memPages = this.memPages;
    const vcpus = this.vcpus;
    const vpnHigh = this.vpnHighBits;
    const frameLimit = this.frameLimit;
    const counts = this.guestByKind;
    let bad = -1;
    for (let i = 0; i < n; i++) {
      const k = kind[i]!;
      const v = vcpu[i]!;
      const p = page[i]!;
      const a = arg[i]!;
      const e = pte[i]!;
      let ok: boolean;
      switch (k) {
        case G.write:
          ok = v < vcpus && (p & vpnHigh) === 0 && a >= 0 && a <= PAGE_BYTES && e === 0;
          break;
        case G.read:
          ok = v < vcpus && (p & vpnHigh) === 0 && a === 0 && e === 0;
          break;
        case G.ptWrite:
          ok = v < vcpus && p >= 0 && p < memPages && a >= 0 && a < TABLE_ENTRIES && (e & PTE_UNUSED_BITS) === 0 && ((e & PTE_P) === 0 || e >>> PTE_FLAG_BITS < frameLimit);
          break;
        case G.cr3Load:
          ok = v < vcpus && p >= 0 && p < memPages && a === 0 && e === 0;
          break;
        case G.physWrite:
          ok = (v < vcpus || v === NO_VCPU) && p >= 0 && p < memPages && a >= 0 && a <= PAGE_BYTES && e === 0;
          break;
        case G.idle:
          ok = (v < vcpus || v === NO_VCPU) && p === 0 && a === 0 && e === 0;
          break;
        default:
          ok = false;
      }
      if (!ok) {
        bad = i;
        break;
      }
      counts[k]++;
    }
    if (bad < 0) return undefined;
    // Keep the counts to the chunks that passed: the read stops here anyway.
    for (let i = 0; i < bad; i++) counts[kind[i]!]--;
    return { event: bad, problem: this.guestProblem(b, bad) };
  }

  run(b: RunBatch): ChunkProblem | undefined {
    if (!this.runTrace) return { event: -1, problem: 'a workload trace (guest events only) holds a chunk of run events' };
    const { kind, dtNs, vcpu, page, arg, costNs } = b;
    const n = b.count;
    const memPages = this.memPages;
    const vcpus = this.vcpus;
    const counts = this.runByKind;
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
        case R.throttle:
          ok &&= v === NO_VCPU && p === -1 && a >= 0 && a <= MAX_THROTTLE_PCT;
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
      counts[k]++;
    }
    if (bad < 0) {
      this.roundsEnded = rounds;
      this.epochs = epochs;
      return undefined;
    }
    for (let i = 0; i < bad; i++) counts[kind[i]!]--;
    return { event: bad, problem: this.runProblem(b, bad, rounds, epochs) };
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
        if (!(a >= 0 && a < TABLE_ENTRIES)) return `${what}: entry index ${a}, but a table has 0 to ${TABLE_ENTRIES - 1}`;
        if ((e & PTE_UNUSED_BITS) !== 0) return `${what}: the PTE sets bits 30 or 31, which the model's 30-bit PTE does not have`;
        return `${what}: the present PTE names frame ${e >>> PTE_FLAG_BITS}, outside the ${this.frameLimit} frames of the ${this.frameLimit === this.memPages ? 'guest' : 'host'}`;
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
