/**
 * A binary min-heap over an ordering the caller gives (`before(a, b)`: a
 * comes out first). Kept apart from its first user, the rtdirty importer's
 * per-vCPU work queues, so that any other scheduler (a fleet's, say) takes
 * it as it is rather than writing its own.
 *
 * The order of equal items is the heap's, not their insertion order: give
 * `before` a tie-break (a sequence number) where the order must be fixed,
 * as a deterministic simulation's must.
 *
 * An item's key may grow while it is at the top (a queue's next item is
 * later than its current one): `topIncreased` moves it down to its place,
 * cheaper than a pop and a push.
 */
export class BinaryHeap<T> {
  private readonly items: T[] = [];

  constructor(private readonly before: (a: T, b: T) => boolean) {}

  get size(): number {
    return this.items.length;
  }

  /** The first item, left in place (undefined when empty). */
  peek(): T | undefined {
    return this.items[0];
  }

  push(item: T): void {
    const h = this.items;
    h.push(item);
    let i = h.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!this.before(h[i]!, h[p]!)) break;
      this.swap(i, p);
      i = p;
    }
  }

  /** Removes and returns the first item (undefined when empty). */
  pop(): T | undefined {
    const h = this.items;
    const top = h[0];
    const last = h.pop();
    if (h.length === 0) return last;
    h[0] = last!;
    this.siftDown(0);
    return top;
  }

  /** Restores the order after the first item's key grew. */
  topIncreased(): void {
    this.siftDown(0);
  }

  private siftDown(at: number): void {
    const h = this.items;
    let i = at;
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let m = i;
      if (l < h.length && this.before(h[l]!, h[m]!)) m = l;
      if (r < h.length && this.before(h[r]!, h[m]!)) m = r;
      if (m === i) return;
      this.swap(i, m);
      i = m;
    }
  }

  private swap(i: number, j: number): void {
    const h = this.items;
    const x = h[i]!;
    h[i] = h[j]!;
    h[j] = x;
  }
}
