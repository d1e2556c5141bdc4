import type { ImportSpace } from './import-guest.js';

/**
 * A run of work the rtdirty importer's planner hands its scheduler
 * (src/import/rtdirty-scheduler.ts) for one vCPU: `n` items, item j at
 * a + floor(step * j) ns. A record's pages are one stream (one write per
 * page); a kernel operation (create, fork, exec, exit) is a stream of one
 * item. Kept in a file of its own because both sides build on it.
 */
export const RtdirtyOp = {
  create: 0,
  fork: 1,
  baseline: 2,
  dirty: 3,
  exec: 4,
  exit: 5,
} as const;

export class RtdirtyStream {
  pos = 0;
  constructor(
    /** Planning order: breaks ties between items due at the same time. */
    readonly seq: number,
    readonly vcpu: number,
    /** An RtdirtyOp. */
    readonly op: number,
    /** The capture line it comes from (for errors). */
    readonly line: number,
    readonly space: ImportSpace,
    readonly n: number,
    public a: number,
    public b: number,
    readonly pages: Float64Array | null,
    readonly gvpns: Int32Array | null,
    readonly frames: Float64Array | null,
    /** The parent a fork copies, the space an exec moves to. */
    readonly other: ImportSpace | null,
  ) {}

  step = 0;

  nextNs(): number {
    return this.a + Math.floor(this.step * this.pos);
  }
}
