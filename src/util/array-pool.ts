/**
 * Zero-filled typed arrays that a sweep's thread hands from one run to the
 * next, instead of allocating each run's per-page state afresh.
 *
 * Why: a run of the apache default allocates about 6 MiB of large typed
 * arrays (the MMU's table pool and event buffers, the oracle's versions,
 * the census, the p2m, ...), and a sweep runs thousands. Fresh memory is
 * zeroed by the kernel on first touch, one page fault per 4 KiB (the sweep
 * bench's main thread spent ~6% of its samples in the kernel under
 * Heap::AllocateExternalBackingStore and the first writes), and each run's
 * external memory pushed V8 into a full mark-compact every ~3 runs ("GC in
 * old space requested", node --trace-gc). Handed back when the run ends
 * and zero-filled when handed out again, the same arrays serve every run of
 * the same shape: the same contents as `new`, so the same results.
 *
 * Only inside `withArrayPool` (the sweep's executeRun and generateGuest):
 * everywhere else `zeroed` is `new`, and a run outside a pool keeps nothing.
 * Only arrays a run's objects own and drop with the run may come from here
 * (instance fields, not module-level caches): every array handed out in a
 * pool's scope is taken back when the scope ends.
 */
export type PooledArray = Int8Array | Uint8Array | Int16Array | Uint16Array | Int32Array | Uint32Array | Float64Array;

export interface PooledArrayType<T extends PooledArray> {
  new (length: number): T;
  readonly BYTES_PER_ELEMENT: number;
}

/** Arrays smaller than this are allocated as usual: malloc serves them from memory it has, and there are few. */
const MIN_POOLED_BYTES = 64 * 1024;

/**
 * Scopes an array may sit unused in the pool before it is let go: a sweep
 * alternates a group's runs (about eight) with its next guest, whose arrays
 * have other shapes; a grid with a memory axis moves on to other shapes
 * for good, and the pool must not hold the last size's arrays for the rest
 * of the sweep (a 64 GiB guest's are hundreds of MiB).
 */
const IDLE_SCOPES = 16;

interface FreeArray {
  readonly array: PooledArray;
  /** The scope that last handed it back. */
  readonly scope: number;
}

export class ArrayPool {
  private readonly free = new Map<PooledArrayType<PooledArray>, Map<number, FreeArray[]>>();
  private lent: PooledArray[] = [];
  private scope = 0;

  take<T extends PooledArray>(type: PooledArrayType<T>, length: number): T {
    const byLength = this.free.get(type as PooledArrayType<PooledArray>);
    const a = byLength?.get(length)?.pop()?.array as T | undefined;
    const out = a ? (a.fill(0) as T) : new type(length);
    this.lent.push(out);
    return out;
  }

  /**
   * Every array handed out since the last call is free again (the run that
   * held them is over); arrays no scope has taken for IDLE_SCOPES scopes
   * are dropped.
   */
  reclaim(): void {
    const scope = ++this.scope;
    for (const a of this.lent) {
      const type = a.constructor as PooledArrayType<PooledArray>;
      let byLength = this.free.get(type);
      if (!byLength) this.free.set(type, (byLength = new Map()));
      const list = byLength.get(a.length);
      if (list) list.push({ array: a, scope });
      else byLength.set(a.length, [{ array: a, scope }]);
    }
    this.lent = [];
    for (const byLength of this.free.values()) {
      for (const [length, list] of byLength) {
        const kept = list.filter((f) => scope - f.scope < IDLE_SCOPES);
        if (kept.length === 0) byLength.delete(length);
        else if (kept.length < list.length) byLength.set(length, kept);
      }
    }
  }

  /** Bytes the pool holds for later scopes (for tests and benches). */
  get freeBytes(): number {
    let n = 0;
    for (const byLength of this.free.values()) for (const list of byLength.values()) for (const f of list) n += f.array.byteLength;
    return n;
  }
}

let active: ArrayPool | undefined;

/** A zero-filled array of `length` elements: from the active pool when one is and the array is large, else new. */
export function zeroed<T extends PooledArray>(type: PooledArrayType<T>, length: number): T {
  return active !== undefined && length * type.BYTES_PER_ELEMENT >= MIN_POOLED_BYTES ? active.take(type, length) : new type(length);
}

/** Runs `work` with `pool` active, then takes back every array it handed out (work's results must hold none). */
export function withArrayPool<R>(pool: ArrayPool, work: () => R): R {
  if (active !== undefined) throw new Error('withArrayPool: a pool is already active');
  active = pool;
  try {
    return work();
  } finally {
    active = undefined;
    pool.reclaim();
  }
}
