import { NO_VCPU } from '../events/guest-event-kind.js';
import { RunEventKind } from '../events/run-event-kind.js';
import { countBits } from './logdirty-bitmap.js';
import { Tracker, type TrackerEnv } from './tracker.js';

/**
 * The destination during post-copy (QEMU's postcopy-ram.c with
 * userfaultfd): pages the source had not sent when the guest switched over
 * are missing, and the first access to one faults, asks the source for it
 * and waits for the request round trip plus the page's transfer. Meanwhile
 * the source pushes the rest in the background (the engine calls
 * `received` for those).
 */
export class PostcopyTracker extends Tracker {
  readonly name = 'direct' as const;
  private missingCount: number;
  faults = 0;
  faultStallNs = 0;

  constructor(
    env: TrackerEnv,
    private readonly missing: Uint32Array,
    private readonly faultCostNs: number,
  ) {
    super(env);
    this.missingCount = countBits(missing);
  }

  /** Pages not received yet, as a bitmap (shared: the engine walks it to push them). */
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
    this.received(pfn);
    if (vcpu === NO_VCPU) return;
    this.faults++;
    this.faultStallNs += this.faultCostNs;
    this.charge(RunEventKind.postcopyFault, vcpu, wallNs, pfn, 0, this.faultCostNs);
  }

  protected onClean(): void {}
  protected onEnable(): void {}
  protected onOff(): void {}
}
