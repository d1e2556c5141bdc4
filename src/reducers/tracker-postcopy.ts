import { NO_VCPU } from '../events/guest-event-kind.js';
import { RunEventKind } from '../events/run-event-kind.js';
import { countBits } from './logdirty-bitmap.js';
import { PostcopyBlocktime } from './postcopy-blocktime.js';
import { Tracker, type TrackerEnv } from './tracker.js';

/** The source, as the destination's fault handling sees it: when a missing page will be there. */
export interface PostcopyFetcher {
  /** `pfn` is missing on the destination and touched at wall time `t`: when its host page's last byte arrives (asking for it if it is not on its way), or -1 if it never will. */
  fetch(pfn: number, t: number): number;
}

/**
 * The destination during post-copy (QEMU's postcopy-ram.c with
 * userfaultfd): pages the source had not sent when the guest switched over
 * are missing, and the first access to one faults (UFFD_EVENT_PAGEFAULT in
 * postcopy_ram_fault_thread), asks the source for its host page and waits
 * until the page is placed (postcopy_place_page wakes the faulting thread).
 * When that is depends on the source (postcopy-source.ts): a request's
 * round trip and the page's transfer, behind whatever is ahead of it. A
 * second access to a page already on its way waits for the same arrival
 * without a new request. Each vCPU's waits are its blocktime
 * (postcopy-blocktime.ts); a device's access (NO_VCPU) fetches the page
 * but stalls no vCPU.
 */
export class PostcopyTracker extends Tracker {
  readonly name = 'direct' as const;
  private missingCount: number;
  faults = 0;
  faultStallNs = 0;
  readonly blocktime: PostcopyBlocktime;
  private readonly hostMask: number;

  constructor(
    env: TrackerEnv,
    private readonly missing: Uint32Array,
    private readonly source: PostcopyFetcher,
    private readonly hostPagePages: number,
  ) {
    super(env);
    this.missingCount = countBits(missing);
    this.blocktime = new PostcopyBlocktime(env.guest.vcpus);
    this.hostMask = ~(hostPagePages - 1);
  }

  /** Pages not received yet, as a bitmap. */
  get missingBitmap(): Uint32Array {
    return this.missing;
  }

  get pagesMissing(): number {
    return this.missingCount;
  }

  isMissing(pfn: number): boolean {
    return (this.missing[pfn >>> 5]! & (1 << (pfn & 31))) !== 0;
  }

  /** The page arrived (pushed, or fetched on a fault). */
  received(pfn: number): void {
    const w = pfn >>> 5;
    const bit = 1 << (pfn & 31);
    if ((this.missing[w]! & bit) === 0) return;
    this.missing[w] = this.missing[w]! & ~bit;
    this.missingCount--;
  }

  protected onWrite(pfn: number, _access: number, vcpu: number, wallNs: number): void {
    this.touch(pfn, vcpu, wallNs);
  }

  protected override onRead(pfn: number, _access: number, vcpu: number, wallNs: number): void {
    this.touch(pfn, vcpu, wallNs);
  }

  private touch(pfn: number, vcpu: number, wallNs: number): void {
    if ((this.missing[pfn >>> 5]! & (1 << (pfn & 31))) === 0) return;
    const arrivalNs = this.source.fetch(pfn, wallNs);
    // A page the source will never send: the guest would hang on it; the phase counts it lost.
    if (arrivalNs < 0) return;
    if (arrivalNs <= wallNs) {
      // Already placed: the source's batch or an earlier request brought it.
      const first = pfn & this.hostMask;
      const end = Math.min(first + this.hostPagePages, this.env.guest.memPages);
      for (let p = first; p < end; p++) this.received(p);
      return;
    }
    if (vcpu === NO_VCPU) return;
    const waitNs = arrivalNs - wallNs;
    this.faults++;
    this.faultStallNs += waitNs;
    this.blocktime.blocked(vcpu, wallNs, arrivalNs);
    this.charge(RunEventKind.postcopyFault, vcpu, wallNs, pfn, 0, waitNs);
  }

  protected onClean(): void {}
  protected onEnable(): void {}
  protected onOff(): void {}
}
