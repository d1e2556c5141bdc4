import type { ShadowPool } from './shadow-pool.js';

/** builtSeq of an L1/FL1 shadow built with log-dirty off: its entries are writable. */
const BUILT_WRITABLE = 0x7fff_ffff;

/**
 * Which came first, a leaf shadow's build or its page's dirtying, for the
 * shadow tracker (tracker-shadow.ts). Xen's _sh_propagate builds an L1
 * shadow entry writable in log-dirty mode only when the page it maps is
 * dirty already (xen/arch/x86/mm/shadow/multi.c); a page marked after the
 * build still has a read-only entry, and its next write faults. Rather
 * than keep a bit per shadow entry, each build and each dirty mark takes
 * the next number of one sequence: an entry whose writable bit is clear
 * was built writable when its shadow's number is BUILT_WRITABLE (built with
 * log-dirty off) or later than its page's mark.
 */
export class ShadowDirtyOrder {
  /** Per guest page: the sequence number of its latest dirty mark (0: none since the restart). */
  private readonly markedAt: Int32Array;
  private seq = 1;

  constructor(
    memPages: number,
    private readonly pool: ShadowPool,
  ) {
    this.markedAt = new Int32Array(memPages);
  }

  /** The builtSeq stamp of a leaf shadow built now. */
  buildStamp(logDirty: boolean): number {
    return logDirty ? this.next() : BUILT_WRITABLE;
  }

  /** `pfn` was just marked dirty. */
  marked(pfn: number): void {
    this.markedAt[pfn] = this.next();
  }

  /**
   * Whether an L1/FL1 shadow entry whose writable bit is clear was built
   * writable: when its shadow was built with log-dirty off, or after its
   * page (`dirty`: whether it is marked this round) was marked.
   */
  writableAsBuilt(leaf: number, pfn: number, dirty: boolean): boolean {
    const built = this.pool.builtSeq[leaf]!;
    return built === BUILT_WRITABLE || (dirty && this.markedAt[pfn]! < built);
  }

  /**
   * The next build/dirtying sequence number. On reaching the Int32 limit the
   * numbers restart: every L1 shadow built in log-dirty takes 1 and every
   * page 0, so a page already dirty counts as marked before every build
   * (writable: never a lost write, at worst a fault not charged) and any
   * later marking comes after every build.
   */
  private next(): number {
    if (this.seq >= BUILT_WRITABLE - 2) this.restart();
    return ++this.seq;
  }

  /** Kept out of next so that it stays small enough to inline into every mark. */
  private restart(): void {
    this.markedAt.fill(0);
    const built = this.pool.builtSeq;
    this.pool.forEachLeafShadow((s) => {
      if (built[s] !== BUILT_WRITABLE) built[s] = 1;
    });
    this.seq = 1;
  }
}
