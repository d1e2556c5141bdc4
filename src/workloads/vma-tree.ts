/**
 * One mapping of an address space (Linux's vm_area_struct): pages
 * [start, end), their VMA_* flags, and what backs them: a memory object of
 * the page cache and the object's page at `start`, or obj -1 for anonymous
 * memory.
 */
export class Vma {
  constructor(
    public start: number,
    public end: number,
    public flags: number,
    public obj: number,
    public objPage: number,
  ) {}
}

/** Told of each mapping removeRange takes out: its pages [start, end), flags, object and the object's page at start. */
export type RemovedMapping = (start: number, end: number, flags: number, obj: number, objPage: number) => void;

/** Numbers a leaf keeps per mapping in its data block, beside its start among the keys. */
const STRIDE = 4;
const END = 0;
const FLAGS = 1;
const OBJ = 2;
const OBJ_PAGE = 3;

/** A leaf's header, the numbers before its keys in the leaf pool. */
const L_N = 0;
const L_PARENT = 1;
const L_PREV = 2;
const L_NEXT = 3;
/** A leaf's bound: the key that leads to it from its parent (-Infinity for the first leaf). */
const L_LOW = 4;
const L_KEYS = 5;
/** An inner node's header, before its keys and then its children in the inner pool. */
const I_N = 0;
const I_PARENT = 1;
const I_KEYS = 2;
/** No node (a parent, a neighbour, the root, the finger). */
const NIL = -1;

/**
 * The mappings of one address space, ordered by start and never
 * overlapping, in a B+tree. Linux keeps them in a B-tree for the same
 * reason (the maple tree mm->mm_mt since 6.1, lib/maple_tree.c: nodes of
 * 10 to 16 slots whose pivots sit side by side; the rbtree mm_rb before):
 * find_vma, mmap and munmap cost the log of the mappings a process has,
 * not their number, and a lookup reads a few wide nodes rather than one
 * scattered node per level.
 *
 * An importer that moves page after page of forked processes onto shared
 * frames gives each process tens of thousands of one-page mappings. A
 * sorted array spliced at each edit moved all of them every time; a
 * binary tree (a treap, before this one) made every lookup follow some
 * twenty-five links from the root to nodes allocated wherever the heap
 * had room, so each munmap and mmap paid that many cache misses, more as
 * the capture grew and its mappings outgrew the caches: import time per MB
 * of capture rose with the capture's size. Here each leaf holds up to 32
 * mappings and each inner node up to 128 children, with their keys
 * (starts, for a leaf; the least start each child may hold, for an inner
 * node) side by side, searched in place: a process of 60,000 mappings is a
 * tree of three levels, the same as one of 5,000.
 *
 * Nodes are not objects: every leaf of a tree is one block of numbers in
 * one Float64Array (its header: count, parent, neighbours and bound; its
 * starts; then end, flags, obj and objPage of each mapping), every inner
 * node one block in another (count, parent, keys, children), and a node is
 * its block's index. With a node an object holding a typed array, each
 * node visited was three dependent loads from three places in memory (the
 * node, the typed array's header, its numbers) before the first key, and
 * the finger's check read the next leaf's object too: at 4x the size of
 * an import's capture the leaves outgrew the last-level cache and each of
 * those loads was a miss; munmap, the importer's largest cost, grew from
 * 0.39 to 0.77 us per guest event between a capture of 1x and 4x. Now a
 * node's header sits on its keys' first cache line. (With objects, too, an
 * import's millions of mappings were most of its heap, every major
 * collection traced them all and each edit shifted a node's pointers
 * through the write barrier; pools of numbers have none of that.) Freed
 * nodes are reused; a pool grows by doubling. Lookups hand out a Vma made
 * for the caller.
 *
 * Leaves are linked both ways in order of start, for the in-order walk and
 * for the mapping just before or after a leaf. An inner node's key i
 * bounds its child i from below (every start in it is at least that) and
 * child i-1 from above; a removal does not tighten it, so a leaf's least
 * start may be above its bound, which firstEndingAfter allows for. Each
 * node knows its parent, so an operation at the leaf the last one used
 * (a finger) needs no walk from the root. Nodes
 * below a quarter full are merged with or refilled from a sibling, so the
 * depth stays logarithmic whatever the edits. The structure is a function
 * of the edits alone (no randomness); what the rest of the kernel observes
 * is only the order of starts.
 */
export class VmaTree {
  /** The root (a leaf when depth is 1), NIL when empty. */
  private root = NIL;
  /** Levels from the root to the leaves (0: empty, 1: the root is a leaf). */
  private levels = 0;
  private count = 0;
  /** Entries per leaf and children per inner node. */
  private readonly leafCapacity: number;
  private readonly innerCapacity: number;
  /** Numbers per leaf block, where a leaf's data starts in it, numbers per inner block, where its children start. */
  private readonly leafBlock: number;
  private readonly leafData: number;
  private readonly innerBlock: number;
  private readonly innerChildren: number;
  /** Every leaf's block (replaced when it grows: read it from the tree each time). */
  private lf: Float64Array;
  private leafSlots = 0;
  private readonly freeLeaves: number[] = [];
  /** Every inner node's block (replaced when it grows). */
  private nd: Float64Array;
  private innerSlots = 0;
  private readonly freeInners: number[] = [];
  /**
   * The leaf the latest operation used. A munmap, the mmap over the hole
   * and the fault that follows all look at one page: each after the first
   * finds its leaf here, with no walk from the root.
   */
  private finger = NIL;
  /** Where the latest `locate` found its mapping: a leaf and an index in it. */
  private hitLeaf = NIL;
  private hitIndex = 0;

  /**
   * `leafCapacity`: mappings per leaf; `innerCapacity`: children per inner
   * node (each at least 4; the tests use small ones to grow deep trees).
   * Inner nodes are wide so that the walk from the root, which every page
   * of an import far from the last one pays, stays two levels deep up to a
   * few hundred thousand mappings: with 32 children, each doubling of the
   * capture's shared pool added levels, and a miss in the caches at each.
   */
  constructor(leafCapacity = 32, innerCapacity = 128) {
    for (const c of [leafCapacity, innerCapacity]) if (!(c >= 4)) throw new RangeError(`VmaTree: capacity ${c} is below 4`);
    this.leafCapacity = leafCapacity;
    this.innerCapacity = innerCapacity;
    // One slot more than the capacity: a node overflows by one before it is split.
    this.leafData = L_KEYS + leafCapacity + 1;
    this.leafBlock = this.leafData + (leafCapacity + 1) * STRIDE;
    this.innerChildren = I_KEYS + innerCapacity + 1;
    this.innerBlock = this.innerChildren + innerCapacity + 1;
    // Most address spaces hold a handful of mappings: one leaf, no inner node.
    this.lf = new Float64Array(this.leafBlock);
    this.nd = new Float64Array(0);
  }

  /** Mappings held. */
  get size(): number {
    return this.count;
  }

  /** Levels from the root to the leaves (0: empty, 1: one leaf). */
  get depth(): number {
    return this.levels;
  }

  /** The first mapping that ends after `vpn`: the one holding it or, if none does, the next. */
  firstEndingAfter(vpn: number): Vma | undefined {
    return this.locate(vpn) ? this.entry(this.hitLeaf, this.hitIndex) : undefined;
  }

  /** The mapping that covers `vpn`, or undefined. */
  find(vpn: number): Vma | undefined {
    return this.findInto(vpn, new Vma(0, 0, 0, -1, 0));
  }

  /**
   * The mapping that covers `vpn` written into `into` (returned), or
   * undefined: a page fault looks its mapping up this way, with no object
   * made per fault.
   */
  findInto(vpn: number, into: Vma): Vma | undefined {
    if (!this.locate(vpn)) return undefined;
    const lf = this.lf;
    const b = this.hitLeaf * this.leafBlock;
    const i = this.hitIndex;
    if (lf[b + L_KEYS + i]! > vpn) return undefined;
    const o = b + this.leafData + i * STRIDE;
    into.start = lf[b + L_KEYS + i]!;
    into.end = lf[o + END]!;
    into.flags = lf[o + FLAGS]!;
    into.obj = lf[o + OBJ]!;
    into.objPage = lf[o + OBJ_PAGE]!;
    return into;
  }

  /** True when some mapping has a page in [start, end). */
  overlaps(start: number, end: number): boolean {
    return this.locate(start) && this.lf[this.hitLeaf * this.leafBlock + L_KEYS + this.hitIndex]! < end;
  }

  /** Adds the mapping [start, end), which overlaps none held (the caller checked). */
  insert(start: number, end: number, flags: number, obj: number, objPage: number): void {
    this.count++;
    const leaf = this.leafFor(start);
    if (leaf === NIL) {
      const first = this.newLeaf();
      const lf = this.lf;
      const b = first * this.leafBlock;
      lf[b + L_N] = 1;
      lf[b + L_PARENT] = lf[b + L_PREV] = lf[b + L_NEXT] = NIL;
      lf[b + L_LOW] = -Infinity;
      lf[b + L_KEYS] = start;
      this.setData(b, 0, end, flags, obj, objPage);
      this.root = this.finger = first;
      this.levels = 1;
      return;
    }
    const lf = this.lf;
    const b = leaf * this.leafBlock;
    const n = lf[b + L_N]!;
    const k = b + L_KEYS;
    const pos = lastAtOrBelow(lf, k, n, start) + 1;
    lf.copyWithin(k + pos + 1, k + pos, k + n);
    const d = b + this.leafData;
    lf.copyWithin(d + (pos + 1) * STRIDE, d + pos * STRIDE, d + n * STRIDE);
    lf[k + pos] = start;
    this.setData(b, pos, end, flags, obj, objPage);
    lf[b + L_N] = n + 1;
    if (n + 1 > this.leafCapacity) this.splitUp(leaf);
  }

  /**
   * Takes out every mapping with a page in [start, end), telling `removed`
   * of each in order of start (as numbers: munmap, which calls this for
   * every page an importer moves onto a shared frame, made an object and
   * an array a call, most of what an import allocated, and the young
   * collections that cleared them cost more as the heap grew).
   */
  removeRange(start: number, end: number, removed: RemovedMapping): void {
    // Mappings are disjoint and ordered: the ones the range touches are
    // the first ending after `start` and those following it that start
    // before `end`.
    while (this.locate(start)) {
      const leaf = this.hitLeaf;
      const i = this.hitIndex;
      const lf = this.lf;
      const b = leaf * this.leafBlock;
      const key = lf[b + L_KEYS + i]!;
      if (key >= end) return;
      const o = b + this.leafData + i * STRIDE;
      removed(key, lf[o + END]!, lf[o + FLAGS]!, lf[o + OBJ]!, lf[o + OBJ_PAGE]!);
      this.removeAt(leaf, i);
    }
  }

  /** The mappings in order of start. */
  *[Symbol.iterator](): IterableIterator<Vma> {
    if (this.levels === 0) return;
    let node = this.root;
    for (let h = this.levels; h > 1; h--) node = this.nd[node * this.innerBlock + this.innerChildren]!;
    for (let leaf = node; leaf !== NIL; leaf = this.lf[leaf * this.leafBlock + L_NEXT]!) {
      const n = this.lf[leaf * this.leafBlock + L_N]!;
      for (let i = 0; i < n; i++) yield this.entry(leaf, i);
    }
  }

  /** Mapping `i` of `leaf` as a Vma of its own (the tree keeps numbers, not objects). */
  private entry(leaf: number, i: number): Vma {
    const lf = this.lf;
    const b = leaf * this.leafBlock;
    const o = b + this.leafData + i * STRIDE;
    return new Vma(lf[b + L_KEYS + i]!, lf[o + END]!, lf[o + FLAGS]!, lf[o + OBJ]!, lf[o + OBJ_PAGE]!);
  }

  private setData(b: number, i: number, end: number, flags: number, obj: number, objPage: number): void {
    const lf = this.lf;
    const o = b + this.leafData + i * STRIDE;
    lf[o + END] = end;
    lf[o + FLAGS] = flags;
    lf[o + OBJ] = obj;
    lf[o + OBJ_PAGE] = objPage;
  }

  /**
   * Finds the first mapping that ends after `vpn` and leaves it in
   * hitLeaf/hitIndex; false when there is none.
   */
  private locate(vpn: number): boolean {
    const leaf = this.leafFor(vpn);
    if (leaf === NIL) return false;
    const lf = this.lf;
    const lb = this.leafBlock;
    const ld = this.leafData;
    const b = leaf * lb;
    const n = lf[b + L_N]!;
    const j = lastAtOrBelow(lf, b + L_KEYS, n, vpn);
    if (j >= 0) {
      if (lf[b + ld + j * STRIDE + END]! > vpn) return this.found(leaf, j);
      if (j + 1 < n) return this.found(leaf, j + 1);
      const next = lf[b + L_NEXT]!;
      return next === NIL ? false : this.found(next, 0);
    }
    // Every start in this leaf is above vpn: the mapping before them, if
    // any, ends the leaf before (the leaf's bound is at most vpn).
    const prev = lf[b + L_PREV]!;
    if (prev !== NIL) {
      const pb = prev * lb;
      const last = lf[pb + L_N]! - 1;
      if (lf[pb + ld + last * STRIDE + END]! > vpn) return this.found(prev, last);
    }
    return this.found(leaf, 0);
  }

  private found(leaf: number, i: number): true {
    this.hitLeaf = leaf;
    this.hitIndex = i;
    return true;
  }

  /**
   * The leaf where `key` belongs: the last whose bound is at most `key`.
   * Bounds rise from leaf to leaf, so the finger is that leaf when its
   * bound is at most `key` and the next leaf's is above it.
   */
  private leafFor(key: number): number {
    const f = this.finger;
    const lf = this.lf;
    const lb = this.leafBlock;
    if (f !== NIL && lf[f * lb + L_LOW]! <= key) {
      const next = lf[f * lb + L_NEXT]!;
      if (next === NIL || key < lf[next * lb + L_LOW]!) return f;
    }
    if (this.levels === 0) return NIL;
    let node = this.root;
    const nd = this.nd;
    const ib = this.innerBlock;
    const ic = this.innerChildren;
    for (let h = this.levels; h > 1; h--) {
      const b = node * ib;
      node = nd[b + ic + Math.max(0, lastAtOrBelow(nd, b + I_KEYS, nd[b + I_N]!, key))]!;
    }
    this.finger = node;
    return node;
  }

  // ------------------------------------------------------------ node pools

  private newLeaf(): number {
    const id = this.freeLeaves.pop();
    if (id !== undefined) return id;
    const slot = this.leafSlots++;
    if ((slot + 1) * this.leafBlock > this.lf.length) this.lf = grown(this.lf, (slot + 1) * this.leafBlock);
    return slot;
  }

  private newInner(): number {
    const id = this.freeInners.pop();
    if (id !== undefined) return id;
    const slot = this.innerSlots++;
    if ((slot + 1) * this.innerBlock > this.nd.length) this.nd = grown(this.nd, (slot + 1) * this.innerBlock);
    return slot;
  }

  // ----------------------------------------------- nodes of either kind
  // `level` 1 is a leaf, above that an inner node.

  private countOf(node: number, level: number): number {
    return level === 1 ? this.lf[node * this.leafBlock + L_N]! : this.nd[node * this.innerBlock + I_N]!;
  }

  private setCount(node: number, level: number, n: number): void {
    if (level === 1) this.lf[node * this.leafBlock + L_N] = n;
    else this.nd[node * this.innerBlock + I_N] = n;
  }

  private parentOf(node: number, level: number): number {
    return level === 1 ? this.lf[node * this.leafBlock + L_PARENT]! : this.nd[node * this.innerBlock + I_PARENT]!;
  }

  private setParent(node: number, level: number, parent: number): void {
    if (level === 1) this.lf[node * this.leafBlock + L_PARENT] = parent;
    else this.nd[node * this.innerBlock + I_PARENT] = parent;
  }

  private firstKey(node: number, level: number): number {
    return level === 1 ? this.lf[node * this.leafBlock + L_KEYS]! : this.nd[node * this.innerBlock + I_KEYS]!;
  }

  private capacityOf(level: number): number {
    return level === 1 ? this.leafCapacity : this.innerCapacity;
  }

  /** Splits an over-full leaf, and each ancestor it leaves over-full, up to a new root if need be. */
  private splitUp(leaf: number): void {
    for (let node = leaf, level = 1; this.countOf(node, level) > this.capacityOf(level); level++) {
      const right = this.splitNode(node, level);
      const parent = this.parentOf(node, level);
      if (parent === NIL) {
        const top = this.newInner();
        const nd = this.nd;
        const b = top * this.innerBlock;
        nd[b + I_N] = 2;
        nd[b + I_PARENT] = NIL;
        nd[b + I_KEYS] = this.firstKey(node, level);
        nd[b + this.innerChildren] = node;
        nd[b + I_KEYS + 1] = this.firstKey(right, level);
        nd[b + this.innerChildren + 1] = right;
        this.setParent(node, level, top);
        this.setParent(right, level, top);
        this.root = top;
        this.levels++;
        return;
      }
      this.insertChild(parent, this.indexIn(parent, node) + 1, this.firstKey(right, level), right);
      node = parent;
    }
  }

  /** Removes entry `pos` of `leaf`, then refills or merges nodes left under a quarter full. */
  private removeAt(leaf: number, pos: number): void {
    const lf = this.lf;
    const b = leaf * this.leafBlock;
    const n = lf[b + L_N]!;
    lf.copyWithin(b + L_KEYS + pos, b + L_KEYS + pos + 1, b + L_KEYS + n);
    const d = b + this.leafData;
    lf.copyWithin(d + pos * STRIDE, d + (pos + 1) * STRIDE, d + n * STRIDE);
    lf[b + L_N] = n - 1;
    this.count--;
    for (let node = leaf, level = 1; ; level++) {
      const parent = this.parentOf(node, level);
      if (parent === NIL || this.countOf(node, level) >= Math.max(2, this.capacityOf(level) >> 2)) break;
      const i = this.indexIn(parent, node);
      // Only the root can be left with one child.
      if (i > 0) this.rebalance(parent, i - 1, level);
      else if (this.nd[parent * this.innerBlock + I_N]! > 1) this.rebalance(parent, 0, level);
      node = parent;
    }
    let root = this.root;
    while (this.levels > 1 && this.nd[root * this.innerBlock + I_N] === 1) {
      this.freeInners.push(root);
      root = this.nd[root * this.innerBlock + this.innerChildren]!;
      this.levels--;
    }
    this.setParent(root, this.levels, NIL);
    this.root = root;
    if (this.countOf(root, this.levels) === 0) {
      this.freeLeaves.push(root);
      this.root = this.finger = NIL;
      this.levels = 0;
    }
  }

  /** Children `i` and `i + 1` of `parent` (at `level`), one of them under-full: merged if they fit in one node, else evened out. */
  private rebalance(parent: number, i: number, level: number): void {
    const pb = parent * this.innerBlock;
    const a = this.nd[pb + this.innerChildren + i]!;
    const b = this.nd[pb + this.innerChildren + i + 1]!;
    // An inner node's key 0 is its bound in the parent (a leaf's is exact).
    if (level > 1) this.nd[b * this.innerBlock + I_KEYS] = this.nd[pb + I_KEYS + i + 1]!;
    const an = this.countOf(a, level);
    const bn = this.countOf(b, level);
    if (an + bn <= this.capacityOf(level)) {
      this.moveEntries(b, 0, bn, a, an, level);
      this.setCount(a, level, an + bn);
      if (level === 1) {
        const lf = this.lf;
        const lb = this.leafBlock;
        const next = lf[b * lb + L_NEXT]!;
        lf[a * lb + L_NEXT] = next;
        if (next !== NIL) lf[next * lb + L_PREV] = a;
        if (this.finger === b) this.finger = a;
        this.freeLeaves.push(b);
      } else this.freeInners.push(b);
      this.removeChild(parent, i + 1);
      return;
    }
    // Move entries across so both hold about half.
    const wantA = (an + bn) >> 1;
    if (an < wantA) {
      const k = wantA - an;
      this.moveEntries(b, 0, k, a, an, level);
      this.setCount(a, level, wantA);
      this.shiftDown(b, k, level);
    } else {
      const k = an - wantA;
      this.shiftUp(b, k, level);
      this.moveEntries(a, wantA, an, b, 0, level);
      this.setCount(b, level, bn + k);
      this.setCount(a, level, wantA);
    }
    const bKey = this.firstKey(b, level);
    this.nd[pb + I_KEYS + i + 1] = bKey;
    if (level === 1) this.lf[b * this.leafBlock + L_LOW] = bKey;
  }

  /** Moves the upper half of an over-full `node` to a new node placed after it, and returns that node. */
  private splitNode(node: number, level: number): number {
    const right = level === 1 ? this.newLeaf() : this.newInner();
    const n = this.countOf(node, level);
    const keep = n >> 1;
    this.moveEntries(node, keep, n, right, 0, level);
    this.setCount(right, level, n - keep);
    this.setCount(node, level, keep);
    this.setParent(right, level, this.parentOf(node, level));
    if (level === 1) {
      const lf = this.lf;
      const lb = this.leafBlock;
      const rb = right * lb;
      const next = lf[node * lb + L_NEXT]!;
      lf[rb + L_LOW] = lf[rb + L_KEYS]!;
      lf[rb + L_NEXT] = next;
      lf[rb + L_PREV] = node;
      if (next !== NIL) lf[next * lb + L_PREV] = right;
      lf[node * lb + L_NEXT] = right;
    }
    return right;
  }

  /** Copies entries [from, to) of `src` to `dst` from `at` (children learn their new parent). */
  private moveEntries(src: number, from: number, to: number, dst: number, at: number, level: number): void {
    if (level === 1) {
      const lf = this.lf;
      const lb = this.leafBlock;
      const sb = src * lb;
      const db = dst * lb;
      lf.copyWithin(db + L_KEYS + at, sb + L_KEYS + from, sb + L_KEYS + to);
      const ld = this.leafData;
      lf.copyWithin(db + ld + at * STRIDE, sb + ld + from * STRIDE, sb + ld + to * STRIDE);
      return;
    }
    const nd = this.nd;
    const ib = this.innerBlock;
    const ic = this.innerChildren;
    const sb = src * ib;
    const db = dst * ib;
    nd.copyWithin(db + I_KEYS + at, sb + I_KEYS + from, sb + I_KEYS + to);
    nd.copyWithin(db + ic + at, sb + ic + from, sb + ic + to);
    for (let j = at, end = at + to - from; j < end; j++) this.setParent(nd[db + ic + j]!, level - 1, dst);
  }

  /** Drops the first `k` entries of `node`, moving the rest down. */
  private shiftDown(node: number, k: number, level: number): void {
    const n = this.countOf(node, level);
    if (level === 1) {
      const lf = this.lf;
      const b = node * this.leafBlock;
      lf.copyWithin(b + L_KEYS, b + L_KEYS + k, b + L_KEYS + n);
      const d = b + this.leafData;
      lf.copyWithin(d, d + k * STRIDE, d + n * STRIDE);
    } else {
      const nd = this.nd;
      const b = node * this.innerBlock;
      nd.copyWithin(b + I_KEYS, b + I_KEYS + k, b + I_KEYS + n);
      const c = b + this.innerChildren;
      nd.copyWithin(c, c + k, c + n);
    }
    this.setCount(node, level, n - k);
  }

  /** Moves every entry of `node` up by `k`, leaving room at the front (its count is not changed). */
  private shiftUp(node: number, k: number, level: number): void {
    const n = this.countOf(node, level);
    if (level === 1) {
      const lf = this.lf;
      const b = node * this.leafBlock;
      lf.copyWithin(b + L_KEYS + k, b + L_KEYS, b + L_KEYS + n);
      const d = b + this.leafData;
      lf.copyWithin(d + k * STRIDE, d, d + n * STRIDE);
    } else {
      const nd = this.nd;
      const b = node * this.innerBlock;
      nd.copyWithin(b + I_KEYS + k, b + I_KEYS, b + I_KEYS + n);
      const c = b + this.innerChildren;
      nd.copyWithin(c + k, c, c + n);
    }
  }

  /** Where `child` is among inner node `parent`'s children. */
  private indexIn(parent: number, child: number): number {
    const nd = this.nd;
    const c = parent * this.innerBlock + this.innerChildren;
    for (let i = 0, n = nd[parent * this.innerBlock + I_N]!; i < n; i++) if (nd[c + i] === child) return i;
    throw new Error("guest kernel bug: a mappings tree node is not among its parent's children");
  }

  private insertChild(node: number, pos: number, key: number, child: number): void {
    const nd = this.nd;
    const b = node * this.innerBlock;
    const n = nd[b + I_N]!;
    const c = b + this.innerChildren;
    nd.copyWithin(b + I_KEYS + pos + 1, b + I_KEYS + pos, b + I_KEYS + n);
    nd.copyWithin(c + pos + 1, c + pos, c + n);
    nd[b + I_KEYS + pos] = key;
    nd[c + pos] = child;
    nd[b + I_N] = n + 1;
  }

  private removeChild(node: number, pos: number): void {
    const nd = this.nd;
    const b = node * this.innerBlock;
    const n = nd[b + I_N]!;
    const c = b + this.innerChildren;
    nd.copyWithin(b + I_KEYS + pos, b + I_KEYS + pos + 1, b + I_KEYS + n);
    nd.copyWithin(c + pos, c + pos + 1, c + n);
    nd[b + I_N] = n - 1;
  }
}

/** `pool` copied into one at least `need` long (doubling: the copies cost a constant per number stored). */
function grown(pool: Float64Array, need: number): Float64Array {
  const next = new Float64Array(Math.max(need, pool.length * 2));
  next.set(pool);
  return next;
}

/** The index of the last of the `n` ascending keys at `keys[from]` on at or below `key`, -1 if none is. */
function lastAtOrBelow(keys: Float64Array, from: number, n: number, key: number): number {
  let lo = 0;
  let hi = n;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (keys[from + mid]! <= key) lo = mid + 1;
    else hi = mid;
  }
  return lo - 1;
}
