import type { GuestBatch } from '../events/guest-batch.js';
import { GuestEventKind, NO_VCPU } from '../events/guest-event-kind.js';
import type { RunBatchBuilder } from '../events/run-batch-builder.js';
import { RunEventKind } from '../events/run-event-kind.js';
import type { CostModel } from '../model/cost-model.js';
import type { GuestType, PagingMode } from '../model/paging.js';
import { type EptExitHandler, type EptGates, READ_GATE_SHIFT } from './ept-gates.js';
import type { KvmOptions } from './kvm-options.js';
import { LogDirtyBitmap, PAGES_PER_LEAF } from './logdirty-bitmap.js';
import type { EptRun } from './ept-run.js';
import type { Mmu } from './mmu.js';
import { ACCESS_FAULT, ACCESS_WRITE, type MmuOutput, WALK_SLOTS } from './mmu-output.js';
import type { PageOracle } from './page-oracle.js';
import { type VcpuClock, WAITS } from './vcpu-clock.js';
import { TOUCH_AHEAD_EVENTS, touchPages } from './touch-ahead.js';
// The imported codes through a module-local constant: an imported binding is
// a live cell V8 reloads and checks on every use, a local const it folds.
const EVENT = RunEventKind;

export type TrackerName = 'shadow' | 'hap' | 'pml' | 'direct' | 'kvm-wp' | 'kvm-pml' | 'kvm-ring';
export const TRACKER_NAMES: readonly TrackerName[] = ['shadow', 'hap', 'pml', 'direct', 'kvm-wp', 'kvm-pml', 'kvm-ring'];
/** KVM's trackers (dirty logging driven by QEMU). */
export const KVM_TRACKERS: readonly TrackerName[] = ['kvm-wp', 'kvm-pml', 'kvm-ring'];

/** PML's handling of superpages (DESIGN section 6). */
export type SuperpagePolicy = 'split' | 'whole' | 'logged-only';
export const SUPERPAGE_POLICIES: readonly SuperpagePolicy[] = ['split', 'whole', 'logged-only'];

/** How the p2m backs an HVM guest: Xen uses 2 MiB wherever aligned. */
export type P2mPageSize = '4k' | '2m' | '1g';
export const P2M_PAGE_SIZES: readonly P2mPageSize[] = ['4k', '2m', '1g'];

export interface TrackerGuest {
  readonly type: GuestType;
  readonly paging: PagingMode;
  readonly memPages: number;
  readonly vcpus: number;
}

/** What a tracker works with: all shared, all changed only through events. */
export interface TrackerEnv {
  readonly guest: TrackerGuest;
  readonly costs: CostModel;
  readonly clock: VcpuClock;
  readonly oracle: PageOracle;
  readonly mmu: Mmu;
  readonly run: RunBatchBuilder;
  readonly superpages: SuperpagePolicy;
  readonly p2m: P2mPageSize;
  /** Shadow: Xen's out-of-sync L1 optimisation (HVM guests only, as in Xen). */
  readonly shadowOos?: boolean;
  /** KVM's trackers: manual protect, clear chunks, eager splitting, the ring (src/reducers/kvm-options.ts). */
  readonly kvm?: KvmOptions;
  /** Every access through Tracker.process and its hooks: the reference path a tracker's own loop (shadow's) is held to. */
  readonly referenceLoop?: boolean;
}

// Module-local copies of imported constants for the event loop: with Node
// 20, reading imported bindings in a hot loop measured 10-15% slower.
const KIND_IDLE = GuestEventKind.idle;
const KIND_CR3_LOAD = GuestEventKind.cr3Load;
const KIND_PT_WRITE = GuestEventKind.ptWrite;
const FAULT = ACCESS_FAULT;
const WRITE = ACCESS_WRITE;
const SLOTS = WALK_SLOTS;
const READ_SHIFT = READ_GATE_SHIFT;
const CLOCK_WAITS = WAITS;
const NO_GATE = new Uint8Array(1);
const NO_PAGES = new Int32Array(0);
/** The look-ahead's column (touch-ahead.ts): one per thread, as the loop is. */
export const touchScratch = new Int32Array(TOUCH_AHEAD_EVENTS);
const scratch = touchScratch;

/** The tables of one walk, in order, from slot w to end: each the walk gate refuses exits. */
function walkTablesRefused(handler: EptExitHandler, walkPfns: Int32Array, w: number, end: number, gate: Uint8Array, shift: number, epoch: number, vcpu: number, wallNs: number): void {
  for (; w < end; w++) {
    const pt = walkPfns[w]!;
    if (pt < 0) return;
    // Re-read: the previous table's exit may have opened this gate.
    if (gate[pt >>> shift] !== epoch) handler.walkRefused(pt, vcpu, wallNs);
  }
}

/**
 * A dirty-page tracker: the hypervisor's side of log-dirty. It sees every
 * access the MMU resolved, charges what the real mechanism costs (stalling
 * the vCPU that takes it), marks pages in the log-dirty bitmap while
 * log-dirty is on, and answers the toolstack's log-dirty operations, as
 * Xen's paging_log_dirty_op does (enable, peek, clean, final, off).
 *
 * The loop over events lives here; subclasses say what one access costs.
 */
export abstract class Tracker {
  abstract readonly name: TrackerName;
  readonly dirty: LogDirtyBitmap;
  protected logDirty = false;
  /** Exits and faults by run-event kind code, and their total cost. */
  readonly exitCounts: Float64Array = new Float64Array(32);
  readonly exitCostNs: Float64Array = new Float64Array(32);
  /** Domain-wide pause time this tracker's operations have charged. */
  domainPausedNs = 0;
  /**
   * Time the last log-dirty operation took on the toolstack's own thread
   * without pausing the domain: KVM's ioctls run beside the vCPUs, and
   * QEMU's migration thread goes on only once they return. Xen's domctls
   * pause the domain instead (their time is a pause): always 0 for them.
   */
  opThreadNs = 0;
  private adBatch: MmuOutput | undefined;

  /** env's clock and run stream, one load nearer: the event loop and every exit use them. */
  private readonly clock: VcpuClock;
  private readonly runEvents: RunBatchBuilder;

  constructor(protected readonly env: TrackerEnv) {
    this.dirty = new LogDirtyBitmap(env.guest.memPages);
    this.clock = env.clock;
    this.runEvents = env.run;
  }

  get logDirtyEnabled(): boolean {
    return this.logDirty;
  }

  /**
   * Processes events from index `from` in order, stopping before the first
   * whose wall time reaches `stopAtWallNs` (the toolstack's next action).
   * `tNs` holds each event's guest time. Returns the first unprocessed index.
   */
  process(batch: GuestBatch, mmu: MmuOutput, tNs: Float64Array, from: number, stopAtWallNs: number, to: number = batch.count): number {
    this.adBatch = mmu;
    // A/D stores are few (a walk sets a flag once): find the first of this range.
    let ad = 0;
    while (ad < mmu.adCount && mmu.adEvent[ad]! < from) ad++;
    const gates = this.gates;
    const gated = gates !== undefined;
    const epoch = gated ? gates.epoch : 0;
    const writeGate = gated ? gates.write : NO_GATE;
    const readGate = gated ? gates.read : NO_GATE;
    const walkGate = gated ? gates.walk : NO_GATE;
    const walkGateShift = gated ? gates.walkShift : 0;
    const walkGateFrom = gated ? gates.walkFrom : 0;
    const handler = gated ? gates.handler : undefined;
    const walkPfns = mmu.walkPfns;
    const clock = this.clock;
    // The throttle changes between calls, never from a hook (the driver sets it).
    const throttle = clock.throttlePct;
    if (throttle === 0) clock.beginLoop(batch.kind);
    const src = this.env.oracle.srcVersion;
    const { kind, vcpu } = batch;
    const { dataPfn, access, adEvent, adPtPfn } = mmu;
    const adCount = mmu.adCount;
    const n = to;
    // For large guests, events before `ahead` have had their pages' lines
    // loaded (touch-ahead.ts): the oracle's version and the tracker's own per-page state.
    let ahead = this.env.mmu.lookAhead ? from : n;
    for (let i = from; i < n; i++) {
      if (i === ahead) {
        ahead = i + TOUCH_AHEAD_EVENTS < n ? i + TOUCH_AHEAD_EVENTS : n;
        this.touchAhead(mmu, i, ahead);
      }
      const v = vcpu[i]!;
      const g = tNs[i]!;
      // The vCPU clock's rule (vcpu-clock.ts).
      const wall = throttle === 0 ? clock.wallNs(v, g, i, stopAtWallNs) : clock.throttledWallNs(v, g, kind[i] === KIND_IDLE ? 1 : 0, stopAtWallNs);
      if (wall === CLOCK_WAITS) return this.stopAt(i, batch, tNs, throttle);
      const k = kind[i]!;
      // Hardware A/D stores made by this event's walk: stores into
      // page-table pages, seen by the tracker like any other store.
      while (ad < adCount && adEvent[ad] === i) {
        const pt = adPtPfn[ad++]!;
        src[pt] = src[pt]! + 1;
        if (!gated) this.onAdStore(pt, v, wall);
        else if (writeGate[pt] !== epoch) handler!.storeRefused(pt, v, wall);
      }
      const a = access[i]!;
      if ((a & FAULT) !== 0) {
        // A guest page fault: the walk read its tables through the EPT up
        // to the entry that faulted, and those reads exit like any other
        // (SDM 29.3.3) before the fault is delivered to the guest, which
        // handles it without the hypervisor.
        if (gated) walkTablesRefused(handler!, walkPfns, (i << 2) + walkGateFrom, (i << 2) + SLOTS, walkGate, walkGateShift, epoch, v, wall);
        else this.onGuestFault(v, wall);
        continue;
      }
      const pfn = dataPfn[i]!;
      if (pfn < 0) {
        if (k === KIND_CR3_LOAD) this.onCr3Load(batch.page[i]!, v, wall);
        continue;
      }
      if (gated) {
        // The hardware's own permission checks: only what the gates refuse
        // reaches the hypervisor.
        // The walk's tables, branch-free: the walk's length varies from one
        // event to the next, and a loop over it mispredicted its exit about
        // once per event. An unused slot (-1) reads gate 0 and is masked out.
        const w = (i << 2) + walkGateFrom;
        const p0 = walkPfns[w]!;
        const p1 = walkPfns[w + 1]!;
        const p2 = walkPfns[w + 2]!;
        const p3 = walkGateFrom === 0 ? walkPfns[w + 3]! : -1;
        const refused =
          ((walkGate[(p0 & ~(p0 >> 31)) >>> walkGateShift]! ^ epoch) & ~(p0 >> 31)) |
          ((walkGate[(p1 & ~(p1 >> 31)) >>> walkGateShift]! ^ epoch) & ~(p1 >> 31)) |
          ((walkGate[(p2 & ~(p2 >> 31)) >>> walkGateShift]! ^ epoch) & ~(p2 >> 31)) |
          ((walkGate[(p3 & ~(p3 >> 31)) >>> walkGateShift]! ^ epoch) & ~(p3 >> 31));
        if (refused !== 0) walkTablesRefused(handler!, walkPfns, w, (i << 2) + SLOTS, walkGate, walkGateShift, epoch, v, wall);
        if ((a & WRITE) !== 0) {
          src[pfn] = src[pfn]! + 1;
          if (writeGate[pfn] !== epoch) handler!.storeRefused(pfn, v, wall);
        } else if (readGate[pfn >>> READ_SHIFT] !== epoch) handler!.loadRefused(pfn, v, wall);
        continue;
      }
      if ((a & WRITE) !== 0) {
        src[pfn] = src[pfn]! + 1;
        if (k === KIND_PT_WRITE) this.onPtWrite(pfn, v, wall, i, mmu);
        else this.onWrite(pfn, a, v, wall, i, mmu);
      } else {
        this.onRead(pfn, a, v, wall, i, mmu);
      }
    }
    return this.stopAt(n, batch, tNs, throttle);
  }

  /** Leaves the event loop before event `i`: unthrottled, each vCPU's last guest time and idle state are settled. */
  private stopAt(i: number, batch: GuestBatch, tNs: Float64Array, throttle: number): number {
    if (throttle === 0) this.clock.settle(batch, tNs);
    return i;
  }

  /**
   * The EPT permissions (src/reducers/ept-gates.ts), for trackers whose
   * hardware checks one per guest page: an access they pass goes on without
   * the hypervisor, so the event loop calls no hook for it, and one they
   * refuse goes to gates.handler (as in the EPT loop, ept-run.ts), not to
   * the hooks below. Undefined: every access calls its hook (shadow's checks
   * live in its shadow tables, not per page). Read once per event-loop call:
   * it changes only between calls (log-dirty operations).
   */
  get gates(): EptGates | undefined {
    return undefined;
  }

  /**
   * Whether Simulation runs this tracker's accesses in its own loop fused
   * with the MMU's walk (runFused; shadow's, shadow-run.ts) rather than
   * through Mmu.applyRange and process, when unthrottled and the MMU's
   * guest is one runUnderEpt's walk covers. Read once per event-loop call.
   */
  get fusedLoop(): boolean {
    return false;
  }

  /**
   * The fused loop from event `from` (trackers whose fusedLoop is true): as
   * runUnderEpt (ept-run.ts), it returns the first event not run and says
   * in run.stop why it stopped (time, or an event it leaves to
   * Mmu.applyRange and process).
   */
  runFused(_mmu: Mmu, _batch: GuestBatch, _from: number, _tNs: Float64Array, _run: EptRun): number {
    throw new Error(`tracker '${this.name}' has no fused loop`);
  }

  /**
   * The look-ahead of process (touch-ahead.ts) over events [from, to) of
   * the MMU's output: the oracle's version of each page accessed. A tracker
   * that reads per-page state of its own on most accesses loads it here too.
   */
  protected touchAhead(mmu: MmuOutput, from: number, to: number): void {
    touchPages(mmu.dataPfn, from, to, this.env.oracle.srcVersion, NO_PAGES, scratch);
  }

  /** A store to a page (a write, or a phys_write by a vCPU or a device). */
  protected abstract onWrite(pfn: number, access: number, vcpu: number, wallNs: number, i: number, mmu: MmuOutput): void;

  /** A load through the MMU (HAP's lazy recalculation charges on any access). */
  protected onRead(_pfn: number, _access: number, _vcpu: number, _wallNs: number, _i: number, _mmu: MmuOutput): void {}

  /** A guest page-table write (pt_write). By default an ordinary store. */
  protected onPtWrite(pfn: number, vcpu: number, wallNs: number, i: number, mmu: MmuOutput): void {
    this.onWrite(pfn, ACCESS_WRITE, vcpu, wallNs, i, mmu);
  }

  /** A hardware A/D store into a page-table page. By default an ordinary store. */
  protected onAdStore(ptPfn: number, vcpu: number, wallNs: number): void {
    this.onWrite(ptPfn, ACCESS_WRITE, vcpu, wallNs, -1, this.adBatch!);
  }

  protected onCr3Load(_rootPfn: number, _vcpu: number, _wallNs: number): void {}

  /** A guest page fault (the guest's walk found no translation); ungated trackers only. */
  protected onGuestFault(_vcpu: number, _wallNs: number): void {}

  /** Charges an exit or fault to a vCPU and records it as a run event. */
  protected charge(kind: number, vcpu: number, wallNs: number, pfn: number, arg: number, costNs: number): void {
    this.clock.stall(vcpu, costNs);
    this.exitCounts[kind] = this.exitCounts[kind]! + 1;
    this.exitCostNs[kind] = this.exitCostNs[kind]! + costNs;
    this.runEvents.emit(kind, wallNs, vcpu, pfn, arg, costNs);
  }

  /** Records a domain-wide operation that pauses every vCPU. */
  protected pauseDomain(kind: number, wallNs: number, arg: number, costNs: number): void {
    this.clock.pauseAll(wallNs, costNs);
    this.domainPausedNs += costNs;
    this.exitCounts[kind] = this.exitCounts[kind]! + 1;
    this.exitCostNs[kind] = this.exitCostNs[kind]! + costNs;
    this.runEvents.emit(kind, wallNs, NO_VCPU, -1, arg, costNs);
  }

  /** Records an operation that runs on a toolstack or hypervisor thread while the vCPUs run: counted, no vCPU stalled. */
  protected threadOp(kind: number, wallNs: number, page: number, arg: number, costNs: number): void {
    this.exitCounts[kind] = this.exitCounts[kind]! + 1;
    this.exitCostNs[kind] = this.exitCostNs[kind]! + costNs;
    this.runEvents.emit(kind, wallNs, NO_VCPU, page, arg, costNs);
  }

  /**
   * The cost of a log-dirty domctl: base plus a pass over the whole bitmap.
   * xen/arch/x86/mm/paging.c paging_log_dirty_op walks the trie for every
   * 32,768-page stretch of the guest, copying an allocated leaf to the
   * toolstack's buffer (and clearing it on CLEAN) or zeroing the buffer's
   * stretch where there is none, all with the domain paused: proportional
   * to guest memory, not to the leaves the guest's writes allocated.
   */
  protected logDirtyOpCostNs(): number {
    const c = this.env.costs;
    return c.logDirtyOpBaseNs + this.bitmapStretches * c.cleanPerLeafNs;
  }

  /** 4 KiB stretches of the toolstack's bitmap: one per PAGES_PER_LEAF pages of guest memory. */
  private get bitmapStretches(): number {
    return Math.ceil(this.env.guest.memPages / PAGES_PER_LEAF);
  }

  // ---- the log-dirty interface (xen/arch/x86/mm/paging.c) ----

  /** ENABLE: start tracking; every page is clean and write-protected (or logged). */
  enable(wallNs: number): void {
    this.logDirty = true;
    this.dirty.reset();
    this.onEnable(wallNs);
    this.pauseDomain(EVENT.logdirtyEnable, wallNs, 0, this.env.costs.logDirtyOpBaseNs);
  }

  /**
   * PEEK: a copy of the bitmap; tracking goes on unchanged. Here and in
   * clean and final, the copy goes into `into` when the caller passes its
   * own buffer (as long as the bitmap), as the domctl copies into the one
   * the toolstack hands it (xc_shadow_control's dirty_bitmap, which
   * tools/libs/guest/xg_sr_save.c allocates once in setup() and passes to
   * every round), else into a new array.
   */
  peek(wallNs: number, into?: Uint32Array): Uint32Array {
    this.flushLogs(wallNs);
    const bits = this.dirty.peek(into);
    this.pauseDomain(EVENT.peek, wallNs, this.dirty.dirtyCount, this.logDirtyOpCostNs());
    return bits;
  }

  /** CLEAN: a copy of the bitmap, then reset and re-arm tracking. */
  clean(wallNs: number, into?: Uint32Array): Uint32Array {
    return this.cleanAs(EVENT.clean, wallNs, into);
  }

  /** FINAL: the clean done while the domain is suspended. */
  final(wallNs: number, into?: Uint32Array): Uint32Array {
    return this.cleanAs(EVENT.final, wallNs, into);
  }

  /** OFF: stop tracking; pages return to normal mappings. */
  off(wallNs: number): void {
    this.flushLogs(wallNs);
    this.notePeakMemory();
    this.logDirty = false;
    this.onOff(wallNs);
    this.pauseDomain(EVENT.off, wallNs, 0, this.env.costs.logDirtyOpBaseNs);
    this.dirty.reset();
  }

  private cleanAs(kind: number, wallNs: number, into: Uint32Array | undefined): Uint32Array {
    this.flushLogs(wallNs);
    this.notePeakMemory();
    const count = this.dirty.dirtyCount;
    const cost = this.logDirtyOpCostNs();
    const bits = this.dirty.clean(into);
    this.onClean(wallNs);
    this.pauseDomain(kind, wallNs, count, cost);
    return bits;
  }

  /** KVM_CLEAR_DIRTY_LOG's chunk as a power of two when the tracker has manual protect (KVM's); undefined: CLEAN re-arms tracking itself. */
  get clearChunkShift(): number | undefined {
    return undefined;
  }

  /** KVM_CLEAR_DIRTY_LOG of one chunk (trackers with clearChunkShift only): returns the toolstack thread's time. */
  clearChunk(_firstPfn: number, _wallNs: number): number {
    throw new Error(`tracker '${this.name}' has no KVM_CLEAR_DIRTY_LOG`);
  }

  /** QEMU's dirty-limit is set up for this tracker (kvm-ring with a quota). */
  get dirtyLimitConfigured(): boolean {
    return false;
  }

  /** QEMU's migration puts the vCPUs under dirty-limit (trackers with dirtyLimitConfigured only). */
  startDirtyLimit(_wallNs: number): void {}

  /** PML: drain every vCPU's buffer into the bitmap first. */
  protected flushLogs(_wallNs: number): void {}
  /** Re-arm write protection (or D-bit logging) for a new round. */
  protected abstract onClean(wallNs: number): void;
  protected abstract onEnable(wallNs: number): void;
  protected abstract onOff(wallNs: number): void;

  /** Bytes of hypervisor memory the tracker uses now (bitmap leaves, shadows, split tables). */
  memoryBytes(): number {
    return this.dirty.leafCount * 4096;
  }

  private peakMemory = 0;

  /**
   * The most memory the tracker held at any log-dirty operation or now:
   * shadows and buffers grow through a round and are dropped at CLEAN, so
   * the end of a run undercounts what the hypervisor had to provide.
   */
  peakMemoryBytes(): number {
    this.notePeakMemory();
    return this.peakMemory;
  }

  private notePeakMemory(): void {
    const m = this.memoryBytes();
    if (m > this.peakMemory) this.peakMemory = m;
  }

  /** Tracker-specific figures (pool use, evictions, splits...), integer counts. */
  stats(): Record<string, number> {
    return {};
  }
}
