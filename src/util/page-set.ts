/**
 * A set of page numbers (any Int32, vpns are signed) as a sparse bitmap:
 * 64 Ki pages per leaf, leaves made on first use. Counts as it goes.
 */
export class PageSet {
  private readonly leaves = new Map<number, Uint32Array>();
  private n = 0;

  get size(): number {
    return this.n;
  }

  add(page: number): void {
    const hi = page >> 16;
    let leaf = this.leaves.get(hi);
    if (!leaf) {
      leaf = new Uint32Array(2048);
      this.leaves.set(hi, leaf);
    }
    const lo = page & 0xffff;
    const w = lo >>> 5;
    const bit = 1 << (lo & 31);
    const old = leaf[w]!;
    if ((old & bit) === 0) {
      leaf[w] = old | bit;
      this.n++;
    }
  }

  has(page: number): boolean {
    const leaf = this.leaves.get(page >> 16);
    if (!leaf) return false;
    const lo = page & 0xffff;
    return (leaf[lo >>> 5]! & (1 << (lo & 31))) !== 0;
  }

  clear(): void {
    this.leaves.clear();
    this.n = 0;
  }
}
