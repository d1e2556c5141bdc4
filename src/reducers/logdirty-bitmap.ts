/**
 * The hypervisor's log-dirty bitmap: one bit per guest pfn, a page counted
 * once per round however often it is written.
 *
 * Follows Xen's xen/arch/x86/mm/paging.c: the bitmap is a 4-level trie whose
 * leaves are 4 KiB pages of 32,768 bits, allocated on the first mark in
 * their range (paging_new_log_dirty_leaf) and kept across CLEAN, which
 * copies them to the toolstack and zeroes them (paging_log_dirty_op). Leaf
 * count is what CLEAN's cost and the tracker's memory are measured in.
 */
export const PAGES_PER_LEAF = 4096 * 8;

export class LogDirtyBitmap {
  readonly bits: Uint32Array;
  private readonly leafUsed: Uint8Array;
  private leaves = 0;
  private dirty = 0;

  constructor(readonly memPages: number) {
    this.bits = new Uint32Array(Math.ceil(memPages / 32));
    this.leafUsed = new Uint8Array(Math.ceil(memPages / PAGES_PER_LEAF));
  }

  /** Pages dirty since the last clean. */
  get dirtyCount(): number {
    return this.dirty;
  }

  /** Leaf pages allocated in the trie (4 KiB each). */
  get leafCount(): number {
    return this.leaves;
  }

  /** Marks a page dirty; true when it was not dirty yet this round. */
  mark(pfn: number): boolean {
    const w = pfn >>> 5;
    const bit = 1 << (pfn & 31);
    const old = this.bits[w]!;
    if ((old & bit) !== 0) return false;
    this.bits[w] = old | bit;
    this.dirty++;
    const leaf = (pfn / PAGES_PER_LEAF) | 0;
    if (this.leafUsed[leaf] === 0) {
      this.leafUsed[leaf] = 1;
      this.leaves++;
    }
    return true;
  }

  /** Clears one page's bit (KVM_CLEAR_DIRTY_LOG clears bits one chunk at a time); true when it was set. */
  unmark(pfn: number): boolean {
    const w = pfn >>> 5;
    const bit = 1 << (pfn & 31);
    const old = this.bits[w]!;
    if ((old & bit) === 0) return false;
    this.bits[w] = old & ~bit;
    this.dirty--;
    return true;
  }

  /** Every page dirty (KVM_DIRTY_LOG_INITIALLY_SET: the bitmap starts all set). */
  markAll(): void {
    for (let p = 0; p < this.memPages; p++) this.mark(p);
  }

  isDirty(pfn: number): boolean {
    return (this.bits[pfn >>> 5]! & (1 << (pfn & 31))) !== 0;
  }

  /**
   * PEEK: a copy of the bitmap, left as it is. Into `into` when given (the
   * toolstack's own buffer, as the domctl copies into the one its caller
   * passes), else into a new array.
   */
  peek(into?: Uint32Array): Uint32Array {
    return copyInto(this.bits, into);
  }

  /** CLEAN: a copy of the bitmap (into `into` when given, as peek), then every bit reset (leaves stay allocated). */
  clean(into?: Uint32Array): Uint32Array {
    const copy = copyInto(this.bits, into);
    this.bits.fill(0);
    this.dirty = 0;
    return copy;
  }

  /** Drops everything (log-dirty OFF frees the trie). */
  reset(): void {
    this.bits.fill(0);
    this.leafUsed.fill(0);
    this.dirty = 0;
    this.leaves = 0;
  }
}

/**
 * `bits` copied into `into`, which must be as long, or into a new array.
 * Why a caller passes its own: a CLEAN every 100 ms round that allocated
 * its copy was, on the apache default under HAP (607 rounds, 32 KiB each),
 * 20 MB of array buffers a run, three quarters of all a run allocated, and
 * the external memory that pushed V8 into a full mark-compact almost every
 * run (node --trace-gc: "external memory pressure").
 */
function copyInto(bits: Uint32Array, into: Uint32Array | undefined): Uint32Array {
  if (into === undefined) return bits.slice();
  if (into.length !== bits.length) throw new RangeError(`log-dirty copy: a buffer of ${into.length} words for a bitmap of ${bits.length}`);
  into.set(bits);
  return into;
}

/**
 * Bits set in `bits` but not in `already`: what a sync adds to a bitmap
 * that still holds pages not yet sent (QEMU counts only these as newly
 * dirty: cpu_physical_memory_sync_dirty_bitmap's num_dirty).
 */
export function countNewBits(bits: Uint32Array, already: Uint32Array): number {
  let n = 0;
  for (let i = 0; i < bits.length; i++) {
    let v = bits[i]! & ~already[i]!;
    v = v - ((v >>> 1) & 0x55555555);
    v = (v & 0x33333333) + ((v >>> 2) & 0x33333333);
    n += (Math.imul((v + (v >>> 4)) & 0x0f0f0f0f, 0x01010101) >>> 24);
  }
  return n;
}

/**
 * Number of set bits in a bitmap copy (pages dirty in a PEEK or CLEAN, pages
 * still missing after a post-copy switch): the project's one bit count. It
 * lives beside the bitmap because every bitmap it counts comes from one.
 */
export function countBits(bits: Uint32Array): number {
  let n = 0;
  for (let i = 0; i < bits.length; i++) {
    let v = bits[i]!;
    v = v - ((v >>> 1) & 0x55555555);
    v = (v & 0x33333333) + ((v >>> 2) & 0x33333333);
    n += (Math.imul((v + (v >>> 4)) & 0x0f0f0f0f, 0x01010101) >>> 24);
  }
  return n;
}
