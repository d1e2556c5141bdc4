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

/** Numbers a leaf keeps per mapping in `data`, beside its start in `keys`. */
const STRIDE = 4;
const END = 0;
const FLAGS = 1;
const OBJ = 2;
const OBJ_PAGE = 3;

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
 * node) in one typed array searched in place: a process of 60,000
 * mappings is a tree of three levels, the same as one of 5,000. A leaf keeps its mappings as numbers in typed
 * arrays, not as objects: with one object per mapping, an import's
 * millions of mappings were most of its heap, every major collection
 * traced them all and each insert or removal shifted a node's pointers
 * through the write barrier, costs per MB of capture that rose with the
 * capture's size. Lookups hand out a Vma made for the caller.
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
  private root: VmaNode | null = null;
  private count = 0;
  /** Entries per leaf and children per inner node. */
  private readonly leafCapacity: number;
  private readonly innerCapacity: number;
  /**
   * The leaf the latest operation used. A munmap, the mmap over the hole
   * and the fault that follows all look at one page: each after the first
   * finds its leaf here, with no walk from the root.
   */
  private finger: VmaNode | null = null;
  /** Where the latest `locate` found its mapping: a leaf and an index in it. */
  private hitLeaf: VmaNode | null = null;
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
  }

  /** Mappings held. */
  get size(): number {
    return this.count;
  }

  /** The first mapping that ends after `vpn`: the one holding it or, if none does, the next. */
  firstEndingAfter(vpn: number): Vma | undefined {
    return this.locate(vpn) ? this.hit() : undefined;
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
    const leaf = this.hitLeaf!;
    const i = this.hitIndex;
    if (leaf.keys[i]! > vpn) return undefined;
    const d = leaf.data!;
    const o = leaf.at + i * STRIDE;
    into.start = leaf.keys[i]!;
    into.end = d[o + END]!;
    into.flags = d[o + FLAGS]!;
    into.obj = d[o + OBJ]!;
    into.objPage = d[o + OBJ_PAGE]!;
    return into;
  }

  /** True when some mapping has a page in [start, end). */
  overlaps(start: number, end: number): boolean {
    return this.locate(start) && this.hitLeaf!.keys[this.hitIndex]! < end;
  }

  /** Adds the mapping [start, end), which overlaps none held (the caller checked). */
  insert(start: number, end: number, flags: number, obj: number, objPage: number): void {
    this.count++;
    const leaf = this.leafFor(start);
    if (leaf === null) {
      const first = new VmaNode(true, this.leafCapacity);
      first.keys[0] = start;
      setData(first, 0, end, flags, obj, objPage);
      first.n = 1;
      this.root = this.finger = first;
      return;
    }
    const pos = lastAtOrBelow(leaf.keys, leaf.n, start) + 1;
    const n = leaf.n;
    leaf.keys.copyWithin(pos + 1, pos, n);
    const at = leaf.at;
    leaf.data!.copyWithin(at + (pos + 1) * STRIDE, at + pos * STRIDE, at + n * STRIDE);
    leaf.keys[pos] = start;
    setData(leaf, pos, end, flags, obj, objPage);
    leaf.n = n + 1;
    for (let node = leaf; node.n > node.capacity; ) {
      const right = this.splitNode(node);
      const parent = node.parent;
      if (parent === null) {
        const top = new VmaNode(false, this.innerCapacity);
        top.keys[0] = node.keys[0]!;
        top.children![0] = node;
        top.keys[1] = right.keys[0]!;
        top.children![1] = right;
        top.n = 2;
        node.parent = right.parent = top;
        this.root = top;
        return;
      }
      insertChild(parent, indexIn(parent, node) + 1, right.keys[0]!, right);
      node = parent;
    }
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
    while (this.locate(start) && this.hitLeaf!.keys[this.hitIndex]! < end) {
      const leaf = this.hitLeaf!;
      const i = this.hitIndex;
      const d = leaf.data!;
      const o = leaf.at + i * STRIDE;
      removed(leaf.keys[i]!, d[o + END]!, d[o + FLAGS]!, d[o + OBJ]!, d[o + OBJ_PAGE]!);
      this.removeAt(leaf, i);
    }
  }

  /** The mappings in order of start. */
  *[Symbol.iterator](): IterableIterator<Vma> {
    let node = this.root;
    if (node === null) return;
    while (!node.leaf) node = node.children![0]!;
    for (let leaf: VmaNode | null = node; leaf !== null; leaf = leaf.next) {
      for (let i = 0; i < leaf.n; i++) yield entry(leaf, i);
    }
  }

  /** The mapping `locate` found, as a Vma of its own (the tree keeps numbers, not objects). */
  private hit(): Vma {
    return entry(this.hitLeaf!, this.hitIndex);
  }

  /**
   * Finds the first mapping that ends after `vpn` and leaves it in
   * hitLeaf/hitIndex; false when there is none.
   */
  private locate(vpn: number): boolean {
    const leaf = this.leafFor(vpn);
    if (leaf === null) return false;
    const j = lastAtOrBelow(leaf.keys, leaf.n, vpn);
    if (j >= 0) {
      if (leaf.data![leaf.at + j * STRIDE + END]! > vpn) return this.found(leaf, j);
      if (j + 1 < leaf.n) return this.found(leaf, j + 1);
      const next = leaf.next;
      return next === null ? false : this.found(next, 0);
    }
    // Every start in this leaf is above vpn: the mapping before them, if
    // any, ends the leaf before (the leaf's bound is at most vpn).
    const prev = leaf.prev;
    if (prev !== null && prev.data![prev.at + (prev.n - 1) * STRIDE + END]! > vpn) return this.found(prev, prev.n - 1);
    return this.found(leaf, 0);
  }

  private found(leaf: VmaNode, i: number): true {
    this.hitLeaf = leaf;
    this.hitIndex = i;
    return true;
  }

  /**
   * The leaf where `key` belongs: the last whose bound is at most `key`.
   * Bounds rise from leaf to leaf, so the finger is that leaf when its
   * bound is at most `key` and the next leaf's (its `high`) is above it.
   */
  private leafFor(key: number): VmaNode | null {
    const f = this.finger;
    if (f !== null && f.low <= key && key < f.high) return f;
    let node = this.root;
    if (node === null) return null;
    while (!node.leaf) node = node.children![Math.max(0, lastAtOrBelow(node.keys, node.n, key))]!;
    this.finger = node;
    return node;
  }

  /** Removes entry `pos` of `leaf`, then refills or merges nodes left under a quarter full. */
  private removeAt(leaf: VmaNode, pos: number): void {
    const n = leaf.n;
    leaf.keys.copyWithin(pos, pos + 1, n);
    const at = leaf.at;
    leaf.data!.copyWithin(at + pos * STRIDE, at + (pos + 1) * STRIDE, at + n * STRIDE);
    leaf.n = n - 1;
    this.count--;
    for (let node = leaf; node.parent !== null && node.n < node.minFill; ) {
      const parent = node.parent;
      const i = indexIn(parent, node);
      // Only the root can be left with one child.
      if (i > 0) this.rebalance(parent, i - 1);
      else if (parent.n > 1) this.rebalance(parent, 0);
      node = parent;
    }
    let root = this.root!;
    while (!root.leaf && root.n === 1) root = root.children![0]!;
    root.parent = null;
    this.root = root.n === 0 ? null : root;
    if (this.root === null) this.finger = null;
  }

  /** Children `i` and `i + 1` of `parent`, one of them under-full: merged if they fit in one node, else evened out. */
  private rebalance(parent: VmaNode, i: number): void {
    const a = parent.children![i]!;
    const b = parent.children![i + 1]!;
    // An inner node's key 0 is its bound in the parent (a leaf's is exact).
    if (!b.leaf) b.keys[0] = parent.keys[i + 1]!;
    if (a.n + b.n <= a.capacity) {
      moveEntries(b, 0, b.n, a, a.n);
      a.n += b.n;
      if (a.leaf) {
        a.next = b.next;
        a.high = b.high;
        if (b.next !== null) b.next.prev = a;
        if (this.finger === b) this.finger = a;
      }
      removeChild(parent, i + 1);
      return;
    }
    // Move entries across so both hold about half.
    const wantA = (a.n + b.n) >> 1;
    if (a.n < wantA) {
      const k = wantA - a.n;
      moveEntries(b, 0, k, a, a.n);
      a.n += k;
      shiftDown(b, k);
    } else {
      const k = a.n - wantA;
      shiftUp(b, k);
      moveEntries(a, wantA, a.n, b, 0);
      if (!a.leaf) a.children!.fill(null, wantA, a.n);
      b.n += k;
      a.n = wantA;
    }
    parent.keys[i + 1] = b.keys[0]!;
    if (b.leaf) a.high = b.low = b.keys[0]!;
  }

  /** Moves the upper half of an over-full `node` to a new node placed after it, and returns that node. */
  private splitNode(node: VmaNode): VmaNode {
    const right = new VmaNode(node.leaf, node.capacity);
    const keep = node.n >> 1;
    moveEntries(node, keep, node.n, right, 0);
    if (!node.leaf) node.children!.fill(null, keep, node.n);
    right.n = node.n - keep;
    node.n = keep;
    right.parent = node.parent;
    if (node.leaf) {
      right.low = right.keys[0]!;
      right.high = node.high;
      node.high = right.low;
      right.next = node.next;
      right.prev = node;
      if (node.next !== null) node.next.prev = right;
      node.next = right;
    }
    return right;
  }
}

/**
 * A node of the tree. A leaf keeps its mappings as numbers: starts in
 * `keys`, the rest in `data` (STRIDE numbers each), so that inserting or
 * removing one moves a block of numbers and a process's mappings are not
 * tens of thousands of objects for the garbage collector to trace. An
 * inner node keeps its children and, in `keys`, the least start each may
 * hold.
 */
class VmaNode {
  n = 0;
  readonly keys: Float64Array;
  /**
   * Leaves: end, flags, obj, objPage of each mapping, from index `at`. The
   * same array as `keys` (one allocation a leaf, the numbers side by side).
   * One slot more than the capacity: a node overflows by one before it is
   * split.
   */
  readonly data: Float64Array | null;
  readonly at: number;
  /** Below this many entries (a quarter of the capacity) a node is merged or refilled. */
  readonly minFill: number;
  /** Inner nodes: the children. */
  readonly children: (VmaNode | null)[] | null;
  parent: VmaNode | null = null;
  /** A leaf's bound: the key that leads to it from its parent (-Infinity for the first leaf). */
  low = -Infinity;
  /**
   * A leaf's upper bound: the next leaf's `low` (Infinity for the last
   * leaf), kept here so that the finger's check reads this leaf alone.
   * Reading it from the next leaf was a cache miss at most operations of
   * an importer, whose pages come in random order: the finger is the
   * previous page's leaf and its neighbour is cold.
   */
  high = Infinity;
  prev: VmaNode | null = null;
  next: VmaNode | null = null;
  constructor(
    readonly leaf: boolean,
    readonly capacity: number,
  ) {
    this.minFill = Math.max(2, capacity >> 2);
    this.at = capacity + 1;
    this.keys = new Float64Array(leaf ? (capacity + 1) * (1 + STRIDE) : capacity + 1);
    this.data = leaf ? this.keys : null;
    this.children = leaf ? null : new Array<VmaNode | null>(capacity + 1).fill(null);
  }
}

function setData(leaf: VmaNode, i: number, end: number, flags: number, obj: number, objPage: number): void {
  const d = leaf.data!;
  const o = leaf.at + i * STRIDE;
  d[o + END] = end;
  d[o + FLAGS] = flags;
  d[o + OBJ] = obj;
  d[o + OBJ_PAGE] = objPage;
}

function entry(leaf: VmaNode, i: number): Vma {
  const d = leaf.data!;
  const o = leaf.at + i * STRIDE;
  return new Vma(leaf.keys[i]!, d[o + END]!, d[o + FLAGS]!, d[o + OBJ]!, d[o + OBJ_PAGE]!);
}

/** Copies entries [from, to) of `src` to `dst` from `at` (children learn their new parent). */
function moveEntries(src: VmaNode, from: number, to: number, dst: VmaNode, at: number): void {
  dst.keys.set(src.keys.subarray(from, to), at);
  if (src.leaf) {
    dst.data!.set(src.data!.subarray(src.at + from * STRIDE, src.at + to * STRIDE), dst.at + at * STRIDE);
    return;
  }
  const sc = src.children!;
  const dc = dst.children!;
  for (let j = from; j < to; j++) {
    const child = sc[j]!;
    dc[at + j - from] = child;
    child.parent = dst;
  }
}

/** Drops the first `k` entries of `node`, moving the rest down. */
function shiftDown(node: VmaNode, k: number): void {
  const n = node.n;
  node.keys.copyWithin(0, k, n);
  if (node.leaf) node.data!.copyWithin(node.at, node.at + k * STRIDE, node.at + n * STRIDE);
  else {
    const c = node.children!;
    for (let j = k; j < n; j++) c[j - k] = c[j]!;
    c.fill(null, n - k, n);
  }
  node.n = n - k;
}

/** Moves every entry of `node` up by `k`, leaving room at the front (n is not changed). */
function shiftUp(node: VmaNode, k: number): void {
  const n = node.n;
  node.keys.copyWithin(k, 0, n);
  if (node.leaf) node.data!.copyWithin(node.at + k * STRIDE, node.at, node.at + n * STRIDE);
  else {
    const c = node.children!;
    for (let j = n - 1; j >= 0; j--) c[j + k] = c[j]!;
  }
}

/** Where `child` is among `parent`'s children. */
function indexIn(parent: VmaNode, child: VmaNode): number {
  const c = parent.children!;
  for (let i = 0; i < parent.n; i++) if (c[i] === child) return i;
  throw new Error("guest kernel bug: a mappings tree node is not among its parent's children");
}

/** The index of the last of `n` ascending keys at or below `key`, -1 if none is. */
function lastAtOrBelow(keys: Float64Array, n: number, key: number): number {
  let lo = 0;
  let hi = n;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (keys[mid]! <= key) lo = mid + 1;
    else hi = mid;
  }
  return lo - 1;
}

function insertChild(node: VmaNode, pos: number, key: number, child: VmaNode): void {
  const c = node.children!;
  node.keys.copyWithin(pos + 1, pos, node.n);
  for (let j = node.n; j > pos; j--) c[j] = c[j - 1]!;
  node.keys[pos] = key;
  c[pos] = child;
  node.n++;
}

function removeChild(node: VmaNode, pos: number): void {
  const c = node.children!;
  node.keys.copyWithin(pos, pos + 1, node.n);
  for (let j = pos + 1; j < node.n; j++) c[j - 1] = c[j]!;
  node.n--;
  c[node.n] = null;
}
