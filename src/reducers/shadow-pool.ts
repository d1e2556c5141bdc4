/**
 * Xen's shadow page pool for one domain: the shadows of guest page-table
 * pages, how they reference each other, and how room is made when the pool
 * is full. The walk, the builds and their costs live in shadow-walk.ts, the
 * guest-facing rules in tracker-shadow.ts; this file is the data structure,
 * in typed arrays (no object per shadow).
 *
 * Follows xen/arch/x86/mm/shadow/common.c and private.h:
 * - A shadow is keyed by (guest page, shadow type): one per guest table per
 *   level (get_shadow_status), and an FL1 shadow, keyed by the first frame
 *   of a guest 2 MiB mapping, holds its 4 KiB "splinters"
 *   (get_fl1_shadow_status). Keys are numbers below `keySpace`: pfns for
 *   table shadows, frames for FL1 shadows (mfns for a PV guest).
 * - A shadow lives while it is referenced: by a present entry of a higher
 *   shadow, by a vCPU's CR3 (shadow_table), or by its pin. sh_put_ref frees
 *   a shadow whose count drops to zero, and freeing one drops the references
 *   its entries held, so a subtree goes with the last reference to it.
 * - Top-level shadows are pinned, and sh_pin puts a shadow at the head of
 *   the pinned list each time a CR3 load installs it: the list is in order
 *   of last CR3 load, most recent first.
 * - _shadow_prealloc makes room: stage one unpins from the tail (least
 *   recently loaded first) until enough is free (an unpinned top-level still
 *   in some CR3 stays, with the shadows it reaches); stage two unhooks every
 *   entry of the top-level shadows in use, which frees everything below them.
 * - shadow_blow_tables runs both stages to the end: every shadow goes but the
 *   top-level ones loaded in a CR3, which stay empty (and unpinned).
 *
 * Per upper-level shadow slot (level >= 2), `ent` holds 512 Int32 values:
 * entry k is 1 + the slot of the shadow that shadow entry k points to, 0
 * when not present. An L1 or FL1 shadow keeps the write state of its entries
 * in a 512-bit row of 16 words (`rwBits`) and a stamp (`builtSeq`);
 * tracker-shadow.ts gives them their meaning. Keeping them to 64 bytes a
 * shadow keeps the check a write makes to one cache line.
 */
export const FL1_LEVEL = 0;
/** Words of a 512-bit row. */
export const ROW_WORDS = 16;

const SHIFT = 9;
const INITIAL_SLOTS = 64;

export class ShadowPool {
  /** Shadows the pool can hold: its pages over the pages one shadow takes. */
  readonly maxShadows: number;
  /** 512 values per upper-level slot (see the file comment). Replaced when the slot arrays grow. */
  ent: Int32Array;
  /** L1/FL1 write state: ROW_WORDS words per slot, and a stamp per slot (see the file comment). */
  rwBits: Uint32Array;
  builtSeq: Int32Array;
  /** The guest pfn a slot shadows (the superpage's first frame for FL1); -1 when free. */
  pfnOf: Int32Array;
  /** The guest level a slot shadows (FL1_LEVEL for FL1). */
  levelOf: Uint8Array;

  /** Whether the L1 shadow in `slot` maps guest page `vpn` (its low 9 bits, the entry) writable. */
  entryWritable(slot: number, vpn: number): boolean {
    return (this.rwBits[slot * ROW_WORDS + ((vpn & 511) >>> 5)]! & (1 << (vpn & 31))) !== 0;
  }

  private refs: Int32Array;
  private pinned: Uint8Array;
  /** Linked entries of an upper-level shadow, ROW_WORDS words per slot. */
  private linkedBits: Uint32Array;
  /** Next slot with the same pfn (the hash chain), -1 at the end. */
  private nextOfPfn: Int32Array;
  private pinPrev: Int32Array;
  private pinNext: Int32Array;
  private pinHead = -1;
  private pinTail = -1;
  /** Per key (pfn): its first shadow's slot plus one, 0 for none; zero-based so that pages never shadowed are never written (no memory). */
  private readonly firstOfPfn: Int32Array;
  private freeSlots: Int32Array;
  private freeCount = 0;
  private highWater = 0;
  private capacity = 0;
  private live = 0;
  private peakLive = 0;
  private freedTotal = 0;
  /**
   * Bumped whenever a present entry of an upper-level shadow is cleared or
   * repointed. A shadow walk that found a present entry at every level
   * gives the same answer until the next bump (the shadow tracker's walk
   * cache keys on it): filling an empty entry, the common case of a fault,
   * changes no such walk, and a shadow is freed only after the last entry
   * pointing at it is cleared.
   */
  generation = 0;

  constructor(
    keySpace: number,
    readonly poolPages: number,
    readonly pagesPerShadow: number,
  ) {
    this.maxShadows = Math.floor(poolPages / pagesPerShadow);
    this.firstOfPfn = new Int32Array(keySpace);
    this.ent = new Int32Array(0);
    this.rwBits = new Uint32Array(0);
    this.builtSeq = new Int32Array(0);
    this.pfnOf = new Int32Array(0);
    this.levelOf = new Uint8Array(0);
    this.refs = new Int32Array(0);
    this.pinned = new Uint8Array(0);
    this.linkedBits = new Uint32Array(0);
    this.nextOfPfn = new Int32Array(0);
    this.pinPrev = new Int32Array(0);
    this.pinNext = new Int32Array(0);
    this.freeSlots = new Int32Array(0);
    this.grow(Math.min(INITIAL_SLOTS, this.maxShadows));
  }

  /** Shadows allocated now, and the most at any time. */
  get shadowsInUse(): number {
    return this.live;
  }
  get peakShadows(): number {
    return this.peakLive;
  }
  get pagesInUse(): number {
    return this.live * this.pagesPerShadow;
  }
  get peakPages(): number {
    return this.peakLive * this.pagesPerShadow;
  }
  /** Its size and use, as the run's tracker stats name them. */
  stats(): Record<string, number> {
    return { shadowPoolPages: this.poolPages, shadowPagesInUse: this.pagesInUse, shadowPagesPeak: this.peakPages, shadowsInUse: this.shadowsInUse };
  }
  /** Shadows that can still be allocated without making room. */
  get freeShadows(): number {
    return this.maxShadows - this.live;
  }
  /** Shadows freed since the start, for any reason. */
  get freed(): number {
    return this.freedTotal;
  }

  /** The slot shadowing `pfn` at `level`, or -1. */
  lookup(pfn: number, level: number): number {
    let s = this.firstOfPfn[pfn]! - 1;
    while (s >= 0 && this.levelOf[s] !== level) s = this.nextOfPfn[s]!;
    return s;
  }

  /** First slot of the chain of shadows of `pfn` (any level), -1 if none; follow with nextOf. */
  firstOf(pfn: number): number {
    return this.firstOfPfn[pfn]! - 1;
  }
  nextOf(slot: number): number {
    return this.nextOfPfn[slot]!;
  }

  /**
   * A new shadow of `pfn` at `level`, with no references: an upper-level one
   * with no entry linked, an L1/FL1 one with its bit row clear and
   * `builtSeq` as given. The caller has made room (freeShadows > 0).
   */
  alloc(pfn: number, level: number, builtSeq: number): number {
    if (this.live >= this.maxShadows) throw new Error('shadow pool: alloc without room (call makeRoom first)');
    let s: number;
    if (this.freeCount > 0) s = this.freeSlots[--this.freeCount]!;
    else {
      if (this.highWater === this.capacity) this.grow(Math.min(this.maxShadows, this.capacity * 2));
      s = this.highWater++;
    }
    this.pfnOf[s] = pfn;
    this.levelOf[s] = level;
    this.refs[s] = 0;
    this.pinned[s] = 0;
    this.nextOfPfn[s] = this.firstOfPfn[pfn]! - 1;
    this.firstOfPfn[pfn] = s + 1;
    if (level < 2) {
      // Sixteen stores: cheaper than a call to fill for a range this short.
      const rw = this.rwBits;
      for (let w = s * ROW_WORDS, end = w + ROW_WORDS; w < end; w++) rw[w] = 0;
      this.builtSeq[s] = builtSeq;
    }
    if (++this.live > this.peakLive) this.peakLive = this.live;
    return s;
  }

  incRef(s: number): void {
    this.refs[s]!++;
  }

  /** Drops one reference; a shadow left with none is freed (sh_put_ref). */
  decRef(s: number): void {
    if (--this.refs[s]! === 0) this.free(s);
  }

  /** Points entry k of upper-level shadow `parent` at shadow `child` (which gains a reference). */
  link(parent: number, k: number, child: number): void {
    const o = (parent << SHIFT) | k;
    const old = this.ent[o]!;
    this.refs[child]!++;
    this.ent[o] = child + 1;
    if (old !== 0) {
      if (old !== child + 1) this.generation++;
      this.decRef(old - 1);
    } else {
      const w = parent * ROW_WORDS + (k >>> 5);
      this.linkedBits[w] = this.linkedBits[w]! | (1 << (k & 31));
    }
  }

  /** Clears entry k of upper-level shadow `parent`, releasing what it pointed at. */
  unlink(parent: number, k: number): void {
    const o = (parent << SHIFT) | k;
    const old = this.ent[o]!;
    if (old === 0) return;
    this.generation++;
    this.ent[o] = 0;
    const w = parent * ROW_WORDS + (k >>> 5);
    this.linkedBits[w] = this.linkedBits[w]! & ~(1 << (k & 31));
    this.decRef(old - 1);
  }

  /**
   * Clears every entry of an upper-level shadow (shadow_unhook_mappings),
   * visiting only the linked ones. Afterwards its row is all zero, as every
   * free slot's is (so alloc need not clear it).
   */
  unhook(s: number): void {
    const base = s << SHIFT;
    const row = s * ROW_WORDS;
    for (let w = 0; w < ROW_WORDS; w++) {
      let bits = this.linkedBits[row + w]!;
      if (bits === 0) continue;
      this.generation++;
      this.linkedBits[row + w] = 0;
      while (bits !== 0) {
        const low = bits & -bits;
        bits ^= low;
        const o = base + (w << 5) + (31 - Math.clz32(low));
        const c = this.ent[o]!;
        this.ent[o] = 0;
        this.decRef(c - 1);
      }
    }
  }

  /** Pins a top-level shadow, or moves it to the head of the pinned list (sh_pin). */
  pin(s: number): void {
    if (this.pinned[s] !== 0) {
      if (this.pinHead === s) return;
      this.pinListRemove(s);
    } else {
      this.pinned[s] = 1;
      this.refs[s]!++;
    }
    this.pinPrev[s] = -1;
    this.pinNext[s] = this.pinHead;
    if (this.pinHead >= 0) this.pinPrev[this.pinHead] = s;
    this.pinHead = s;
    if (this.pinTail < 0) this.pinTail = s;
  }

  /** Unpins a shadow (sh_unpin): it is freed unless a CR3 still holds it. */
  unpin(s: number): void {
    if (this.pinned[s] === 0) return;
    this.pinned[s] = 0;
    this.pinListRemove(s);
    this.decRef(s);
  }

  /**
   * Frees shadows until `shadows` can be allocated (_shadow_prealloc), with
   * `cr3Top[v]` the top-level shadow each vCPU has loaded (-1 for none).
   * Returns the number of shadows freed.
   */
  makeRoom(shadows: number, cr3Top: Int32Array): number {
    const before = this.freedTotal;
    if (this.freeShadows >= shadows) return 0;
    // Stage one: unpin from the least recently loaded end.
    for (let s = this.pinTail; s >= 0; ) {
      const prev = this.pinPrev[s]!;
      this.unpin(s);
      if (this.freeShadows >= shadows) return this.freedTotal - before;
      s = prev;
    }
    // Stage two: every remaining shadow hangs below a top-level one in use.
    for (let v = 0; v < cr3Top.length; v++) {
      const s = cr3Top[v]!;
      if (s < 0) continue;
      this.unhook(s);
      if (this.freeShadows >= shadows) break;
    }
    return this.freedTotal - before;
  }

  /** shadow_blow_tables: unpin everything, unhook the top-level shadows in use. Returns shadows freed. */
  blowAll(cr3Top: Int32Array): number {
    const before = this.freedTotal;
    for (let s = this.pinTail; s >= 0; ) {
      const prev = this.pinPrev[s]!;
      this.unpin(s);
      s = prev;
    }
    for (let v = 0; v < cr3Top.length; v++) if (cr3Top[v]! >= 0) this.unhook(cr3Top[v]!);
    return this.freedTotal - before;
  }

  /** Leaving shadow mode: blow everything and drop the vCPUs' CR3 references too. Returns shadows freed. */
  teardown(cr3Top: Int32Array): number {
    const before = this.freedTotal;
    this.blowAll(cr3Top);
    for (let v = 0; v < cr3Top.length; v++) {
      const s = cr3Top[v]!;
      cr3Top[v] = -1;
      if (s >= 0) this.decRef(s);
    }
    return this.freedTotal - before;
  }

  /** Calls fn for each live L1 and FL1 shadow (for a renumbering of their stamps). */
  forEachLeafShadow(fn: (slot: number) => void): void {
    for (let s = 0; s < this.highWater; s++) {
      if (this.pfnOf[s]! >= 0 && this.levelOf[s]! <= 1) fn(s);
    }
  }

  private free(s: number): void {
    if (this.levelOf[s]! >= 2) this.unhook(s);
    const pfn = this.pfnOf[s]!;
    // Off its hash chain.
    let p = this.firstOfPfn[pfn]! - 1;
    if (p === s) this.firstOfPfn[pfn] = this.nextOfPfn[s]! + 1;
    else {
      while (this.nextOfPfn[p] !== s) p = this.nextOfPfn[p]!;
      this.nextOfPfn[p] = this.nextOfPfn[s]!;
    }
    if (this.pinned[s] !== 0) {
      this.pinned[s] = 0;
      this.pinListRemove(s);
    }
    this.pfnOf[s] = -1;
    this.freeSlots[this.freeCount++] = s;
    this.live--;
    this.freedTotal++;
  }

  private pinListRemove(s: number): void {
    const prev = this.pinPrev[s]!;
    const next = this.pinNext[s]!;
    if (prev >= 0) this.pinNext[prev] = next;
    else this.pinHead = next;
    if (next >= 0) this.pinPrev[next] = prev;
    else this.pinTail = prev;
  }

  private grow(slots: number): void {
    const old = this.capacity;
    if (slots <= old) return;
    const ent = new Int32Array(slots << SHIFT);
    ent.set(this.ent);
    this.ent = ent;
    const growU32 = (a: Uint32Array, n: number) => {
      const b = new Uint32Array(n);
      b.set(a);
      return b;
    };
    this.rwBits = growU32(this.rwBits, slots * ROW_WORDS);
    this.linkedBits = growU32(this.linkedBits, slots * ROW_WORDS);
    const grow32 = (a: Int32Array, fill = 0) => {
      const b = new Int32Array(slots);
      b.set(a);
      if (fill !== 0) b.fill(fill, old);
      return b;
    };
    this.pfnOf = grow32(this.pfnOf, -1);
    this.builtSeq = grow32(this.builtSeq);
    this.refs = grow32(this.refs);
    this.nextOfPfn = grow32(this.nextOfPfn, -1);
    this.pinPrev = grow32(this.pinPrev, -1);
    this.pinNext = grow32(this.pinNext, -1);
    this.freeSlots = grow32(this.freeSlots);
    const lv = new Uint8Array(slots);
    lv.set(this.levelOf);
    this.levelOf = lv;
    const pn = new Uint8Array(slots);
    pn.set(this.pinned);
    this.pinned = pn;
    this.capacity = slots;
  }
}
