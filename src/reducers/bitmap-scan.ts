/** The first set bit at or after `from` and below `limit`, or -1. */
export function nextSetBit(bits: Uint32Array, from: number, limit: number): number {
  if (from >= limit) return -1;
  let w = from >>> 5;
  let word = bits[w]! & (~0 << (from & 31));
  const lastWord = (limit - 1) >>> 5;
  for (;;) {
    if (word !== 0) {
      const pfn = (w << 5) | (31 - Math.clz32(word & -word));
      return pfn < limit ? pfn : -1;
    }
    if (++w > lastWord) return -1;
    word = bits[w]!;
  }
}

/** A bitmap of `n` bits, all set (a full pass). */
export function allSet(n: number): Uint32Array {
  const bits = new Uint32Array(Math.ceil(n / 32)).fill(0xffffffff);
  const tail = n & 31;
  if (tail) bits[bits.length - 1] = (1 << tail) - 1;
  return bits;
}

/** ORs `src` into `dst`. */
export function orInto(dst: Uint32Array, src: Uint32Array): void {
  for (let i = 0; i < dst.length; i++) dst[i] = dst[i]! | src[i]!;
}
