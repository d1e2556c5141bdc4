/**
 * An Int32 per index over a large range (one per guest page, say) whose
 * memory is allocated only where some index is nonzero: 4,096-entry chunks
 * made on the first write into them, zero everywhere else. For state that a
 * guest's few special pages have (roots, page tables) but every page could:
 * a read is two loads and no hashing, and a guest of 2^30 pages costs a
 * pointer per 4,096 pages until its pages are used.
 */
const CHUNK_SHIFT = 12;
const CHUNK_MASK = (1 << CHUNK_SHIFT) - 1;

export class PagedInt32 {
  private readonly chunks: (Int32Array | undefined)[];

  constructor(readonly length: number) {
    this.chunks = new Array<Int32Array | undefined>(Math.ceil(length / (CHUNK_MASK + 1))).fill(undefined);
  }

  get(i: number): number {
    const c = this.chunks[i >>> CHUNK_SHIFT];
    return c === undefined ? 0 : c[i & CHUNK_MASK]!;
  }

  set(i: number, value: number): void {
    let c = this.chunks[i >>> CHUNK_SHIFT];
    if (c === undefined) {
      if (value === 0) return;
      c = this.chunks[i >>> CHUNK_SHIFT] = new Int32Array(CHUNK_MASK + 1);
    }
    c[i & CHUNK_MASK] = value;
  }

  /** Adds `delta` to entry i; returns the new value. */
  add(i: number, delta: number): number {
    const v = this.get(i) + delta;
    this.set(i, v);
    return v;
  }
}
