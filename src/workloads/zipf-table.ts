/**
 * Zipf(s = 1) over ranks 0..n-1 by inverse CDF: P(rank k) is proportional to
 * 1/(k+1). The table is built with divisions and additions in a fixed order
 * only, which IEEE 754 rounds exactly, so every platform draws the same
 * ranks (Math.pow is not guaranteed correctly rounded, so other exponents
 * are not offered).
 */
export class ZipfTable {
  private readonly cdf: Float64Array;

  constructor(readonly n: number) {
    this.cdf = new Float64Array(n);
    let sum = 0;
    for (let k = 0; k < n; k++) {
      sum += 1 / (k + 1);
      this.cdf[k] = sum;
    }
    for (let k = 0; k < n; k++) this.cdf[k] = this.cdf[k]! / sum;
  }

  /** The rank whose CDF interval contains u, for u uniform in [0, 1). */
  rank(u: number): number {
    const cdf = this.cdf;
    let lo = 0;
    let hi = this.n - 1;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (cdf[mid]! > u) hi = mid;
      else lo = mid + 1;
    }
    return lo;
  }
}
