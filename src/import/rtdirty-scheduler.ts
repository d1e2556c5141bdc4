import { BinaryHeap } from '../util/binary-heap.js';
import type { ImportGuest } from './import-guest.js';
import { RtdirtyOp, type RtdirtyStream } from './rtdirty-stream.js';

/**
 * Runs the work the rtdirty importer planned for a tick on the guest's
 * vCPUs: each vCPU takes its streams' items in time order (a heap per
 * vCPU), the vCPU whose next item can start first goes next (ties: lowest
 * vCPU), and an item starts when it is due and its vCPU is free. Kernel
 * work takes the vCPU's time as it would, so an item can start a little
 * after its slot. Apart from the planner (src/import/rtdirty-importer.ts)
 * because it only runs what it is given: it never reads the capture.
 */
export class RtdirtyScheduler {
  /** Distinct pages of the address spaces released so far (exec, exit). */
  releasedPages = 0;
  private readonly heaps: BinaryHeap<RtdirtyStream>[];

  constructor(
    private readonly guest: ImportGuest,
    /** Bytes of each write a page becomes. */
    private readonly writeBytes: number,
    /** Told the capture line of each item it runs, where an error is reported. */
    private readonly position: { currentLine: number },
  ) {
    this.heaps = Array.from({ length: guest.freeNs.length }, () => new BinaryHeap(before));
  }

  /** Runs a tick's streams to their end. */
  run(streams: readonly RtdirtyStream[]): void {
    const heaps = this.heaps;
    for (const s of streams) heaps[s.vcpu]!.push(s);
    const guest = this.guest;
    const out = guest.out;
    const free = guest.freeNs;
    for (;;) {
      let best = -1;
      let bestNs = Infinity;
      for (let v = 0; v < heaps.length; v++) {
        const h = heaps[v]!;
        const top = h.peek();
        if (top === undefined) continue;
        const t = Math.max(top.nextNs(), free[v]!);
        if (t < bestNs) {
          bestNs = t;
          best = v;
        }
      }
      if (best < 0) return;
      const h = heaps[best]!;
      const s = h.peek()!;
      const t = Math.max(bestNs, out.nowNs);
      this.position.currentLine = s.line;
      guest.startWork(best, t);
      const used = this.runItem(s, t);
      guest.endWork(best, t + used);
      if (++s.pos === s.n) h.pop();
      else h.topIncreased();
    }
  }

  /** Runs item `s.pos` of a stream at `tNs`; returns the vCPU time it took. */
  private runItem(s: RtdirtyStream, tNs: number): number {
    const g = this.guest;
    const v = s.vcpu;
    switch (s.op) {
      case RtdirtyOp.create:
        return g.create(s.space, v, tNs);
      case RtdirtyOp.fork:
        return g.fork(s.other!, s.space, v, tNs);
      case RtdirtyOp.baseline:
      case RtdirtyOp.dirty: {
        const i = s.pos;
        // The process runs through the part of the tick its writes are
        // spread over: its vCPU is busy there, not idle between writes.
        if (i === 0 && s.op === RtdirtyOp.dirty) g.activity.busyUntil(v, s.b);
        const frame = s.frames ? s.frames[i]! : 0;
        return g.write(s.space, s.pages![i]!, s.gvpns![i]!, frame, s.op === RtdirtyOp.baseline, v, tNs, this.writeBytes);
      }
      case RtdirtyOp.exec: {
        this.releasedPages += s.space.listedPages;
        const used = g.exec(s.space, s.other!, v, tNs);
        s.space.release();
        return used;
      }
      case RtdirtyOp.exit: {
        if (!s.space.alive) return 0;
        this.releasedPages += s.space.listedPages;
        const used = g.exit(s.space, v, tNs);
        s.space.release();
        return used;
      }
      default:
        throw new Error(`rtdirty importer bug: unknown op ${s.op}`);
    }
  }
}

/** The order of a vCPU's work: next item time, then planning order. */
function before(x: RtdirtyStream, y: RtdirtyStream): boolean {
  const tx = x.nextNs();
  const ty = y.nextNs();
  return tx < ty || (tx === ty && x.seq < y.seq);
}
