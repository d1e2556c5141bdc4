import type { GuestBatch } from '../events/guest-batch.js';
import { GuestEventKind, NO_VCPU } from '../events/guest-event-kind.js';
import type { RunBatchBuilder } from '../events/run-batch-builder.js';
import { RunEventKind } from '../events/run-event-kind.js';
import type { CostModel } from '../model/cost-model.js';
import type { GuestType, PagingMode } from '../model/paging.js';
import { LogDirtyBitmap } from './logdirty-bitmap.js';
import { ACCESS_FAULT, ACCESS_WRITE, type Mmu, type MmuOutput } from './mmu.js';
import type { PageOracle } from './page-oracle.js';
import type { VcpuClock } from './vcpu-clock.js';

export type TrackerName = 'shadow' | 'hap' | 'pml' | 'direct';
export const TRACKER_NAMES: readonly TrackerName[] = ['shadow', 'hap', 'pml', 'direct'];

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
  private adCursor = 0;
  private adBatch: MmuOutput | undefined;

  constructor(protected readonly env: TrackerEnv) {
    this.dirty = new LogDirtyBitmap(env.guest.memPages);
  }

  get logDirtyEnabled(): boolean {
    return this.logDirty;
  }

  /**
   * Processes events from index `from` in order, stopping before the first
   * whose wall time reaches `stopAtWallNs` (the toolstack's next action).
   * `tNs` holds each event's guest time. Returns the first unprocessed index.
   */
  process(batch: GuestBatch, mmu: MmuOutput, tNs: Float64Array, from: number, stopAtWallNs: number): number {
    if (this.adBatch !== mmu || from === 0) {
      this.adBatch = mmu;
      this.adCursor = 0;
      while (this.adCursor < mmu.adCount && mmu.adEvent[this.adCursor]! < from) this.adCursor++;
    }
    const clock = this.env.clock;
    const src = this.env.oracle.srcVersion;
    const { kind, vcpu } = batch;
    const { dataPfn, access, adEvent, adPtPfn } = mmu;
    const adCount = mmu.adCount;
    let ad = this.adCursor;
    const n = batch.count;
    for (let i = from; i < n; i++) {
      const v = vcpu[i]!;
      const g = tNs[i]!;
      const wall = clock.wallOf(g, v);
      if (wall >= stopAtWallNs) {
        this.adCursor = ad;
        return i;
      }
      clock.enter(g, v, wall);
      const k = kind[i]!;
      if (v !== NO_VCPU) clock.idle[v] = k === GuestEventKind.idle ? 1 : 0;
      // Hardware A/D stores made by this event's walk: stores into
      // page-table pages, seen by the tracker like any other store.
      while (ad < adCount && adEvent[ad] === i) {
        const pt = adPtPfn[ad++]!;
        src[pt] = src[pt]! + 1;
        this.onAdStore(pt, v, wall);
      }
      const a = access[i]!;
      if ((a & ACCESS_FAULT) !== 0) continue;
      const pfn = dataPfn[i]!;
      if (pfn < 0) {
        if (k === GuestEventKind.cr3Load) this.onCr3Load(batch.page[i]!, v, wall);
        continue;
      }
      if ((a & ACCESS_WRITE) !== 0) {
        src[pfn] = src[pfn]! + 1;
        if (k === GuestEventKind.ptWrite) this.onPtWrite(pfn, v, wall, i, mmu);
        else this.onWrite(pfn, a, v, wall, i, mmu);
      } else {
        this.onRead(pfn, a, v, wall, i, mmu);
      }
    }
    this.adCursor = ad;
    return n;
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

  /** Charges an exit or fault to a vCPU and records it as a run event. */
  protected charge(kind: number, vcpu: number, wallNs: number, pfn: number, arg: number, costNs: number): void {
    this.env.clock.stall(vcpu, costNs);
    this.exitCounts[kind] = this.exitCounts[kind]! + 1;
    this.exitCostNs[kind] = this.exitCostNs[kind]! + costNs;
    this.env.run.emit(kind, wallNs, vcpu, pfn, arg, costNs);
  }

  /** Records a domain-wide operation that pauses every vCPU. */
  protected pauseDomain(kind: number, wallNs: number, arg: number, costNs: number): void {
    this.env.clock.pauseAll(wallNs, costNs);
    this.domainPausedNs += costNs;
    this.exitCounts[kind] = this.exitCounts[kind]! + 1;
    this.exitCostNs[kind] = this.exitCostNs[kind]! + costNs;
    this.env.run.emit(kind, wallNs, NO_VCPU, -1, arg, costNs);
  }

  /** The cost of a log-dirty domctl: base plus a pass over the bitmap's leaves. */
  protected logDirtyOpCostNs(): number {
    const c = this.env.costs;
    return c.logDirtyOpBaseNs + this.dirty.leafCount * c.cleanPerLeafNs;
  }

  // ---- the log-dirty interface (xen/arch/x86/mm/paging.c) ----

  /** ENABLE: start tracking; every page is clean and write-protected (or logged). */
  enable(wallNs: number): void {
    this.logDirty = true;
    this.dirty.reset();
    this.onEnable(wallNs);
    this.pauseDomain(RunEventKind.logdirtyEnable, wallNs, 0, this.env.costs.logDirtyOpBaseNs);
  }

  /** PEEK: a copy of the bitmap; tracking goes on unchanged. */
  peek(wallNs: number): Uint32Array {
    this.flushLogs(wallNs);
    const bits = this.dirty.peek();
    this.pauseDomain(RunEventKind.peek, wallNs, this.dirty.dirtyCount, this.logDirtyOpCostNs());
    return bits;
  }

  /** CLEAN: a copy of the bitmap, then reset and re-arm tracking. */
  clean(wallNs: number): Uint32Array {
    return this.cleanAs(RunEventKind.clean, wallNs);
  }

  /** FINAL: the clean done while the domain is suspended. */
  final(wallNs: number): Uint32Array {
    return this.cleanAs(RunEventKind.final, wallNs);
  }

  /** OFF: stop tracking; pages return to normal mappings. */
  off(wallNs: number): void {
    this.flushLogs(wallNs);
    this.notePeakMemory();
    this.logDirty = false;
    this.onOff(wallNs);
    this.pauseDomain(RunEventKind.off, wallNs, 0, this.env.costs.logDirtyOpBaseNs);
    this.dirty.reset();
  }

  private cleanAs(kind: number, wallNs: number): Uint32Array {
    this.flushLogs(wallNs);
    this.notePeakMemory();
    const count = this.dirty.dirtyCount;
    const cost = this.logDirtyOpCostNs();
    const bits = this.dirty.clean();
    this.onClean(wallNs);
    this.pauseDomain(kind, wallNs, count, cost);
    return bits;
  }

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
