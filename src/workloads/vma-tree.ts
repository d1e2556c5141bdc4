import type { Vma } from './address-space.js';

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
 * of capture rose with the capture's size. Here each node holds up to
 * `capacity` (32) entries and keeps their keys (starts, for a leaf;
 * the least start each child may hold, for an inner node) in one typed
 * array searched in place: a process of 60,000 mappings is a tree of
 * three or four levels.
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
  private readonly capacity: number;
  private readonly minFill: number;
  /**
   * The leaf the latest operation used. A munmap, the mmap over the hole
   * and the fault that follows all look at one page: each after the first
   * finds its leaf here, with no walk from the root.
   */
  private finger: VmaNode | null = null;

  /** `capacity`: entries per node (at least 4; the tests use small ones to grow deep trees). */
  constructor(capacity = 32) {
    if (!(capacity >= 4)) throw new RangeError(`VmaTree: capacity ${capacity} is below 4`);
    this.capacity = capacity;
    this.minFill = Math.max(2, capacity >> 2);
  }

  /** Mappings held. */
  get size(): number {
    return this.count;
  }

  /** The first mapping that ends after `vpn`: the one holding it or, if none does, the next. */
  firstEndingAfter(vpn: number): Vma | undefined {
    const leaf = this.leafFor(vpn);
    if (leaf === null) return undefined;
    const j = lastAtOrBelow(leaf.keys, leaf.n, vpn);
    if (j >= 0) {
      const below = leaf.items[j] as Vma;
      if (below.end > vpn) return below;
      if (j + 1 < leaf.n) return leaf.items[j + 1] as Vma;
      const next = leaf.next;
      return next === null ? undefined : (next.items[0] as Vma);
    }
    // Every start in this leaf is above vpn: the mapping before them, if
    // any, ends the leaf before (the leaf's bound is at most vpn).
    const prev = leaf.prev;
    if (prev !== null) {
      const below = prev.items[prev.n - 1] as Vma;
      if (below.end > vpn) return below;
    }
    return leaf.items[0] as Vma;
  }

  /** The mapping that covers `vpn`, or undefined. */
  find(vpn: number): Vma | undefined {
    const r = this.firstEndingAfter(vpn);
    return r !== undefined && r.start <= vpn ? r : undefined;
  }

  /** Adds `vma`, which overlaps no mapping held (the caller checked) and is in no tree. */
  insert(vma: Vma): void {
    this.count++;
    const key = vma.start;
    const leaf = this.leafFor(key);
    if (leaf === null) {
      const first = new VmaNode(true, this.capacity);
      first.keys[0] = key;
      first.items[0] = vma;
      first.n = 1;
      this.root = this.finger = first;
      return;
    }
    insertAt(leaf, lastAtOrBelow(leaf.keys, leaf.n, key) + 1, key, vma);
    for (let node = leaf; node.n > this.capacity; ) {
      const right = this.splitNode(node);
      const parent = node.parent;
      if (parent === null) {
        const top = new VmaNode(false, this.capacity);
        top.keys[0] = node.keys[0]!;
        top.items[0] = node;
        top.keys[1] = right.keys[0]!;
        top.items[1] = right;
        top.n = 2;
        node.parent = right.parent = top;
        this.root = top;
        return;
      }
      insertAt(parent, indexIn(parent, node) + 1, right.keys[0]!, right);
      node = parent;
    }
  }

  /**
   * Takes out every mapping with a page in [start, end) and returns them in
   * order of start.
   */
  removeRange(start: number, end: number): Vma[] {
    const removed: Vma[] = [];
    // Mappings are disjoint and ordered: the ones the range touches are
    // the first ending after `start` and those following it that start
    // before `end`.
    for (let r = this.firstEndingAfter(start); r !== undefined && r.start < end; r = this.firstEndingAfter(start)) {
      this.remove(r);
      removed.push(r);
    }
    return removed;
  }

  /** The mappings in order of start. */
  *[Symbol.iterator](): IterableIterator<Vma> {
    let node = this.root;
    if (node === null) return;
    while (!node.leaf) node = node.items[0] as VmaNode;
    for (let leaf: VmaNode | null = node; leaf !== null; leaf = leaf.next) {
      for (let i = 0; i < leaf.n; i++) yield leaf.items[i] as Vma;
    }
  }

  /**
   * The leaf where `key` belongs: the last whose bound is at most `key`.
   * Bounds rise from leaf to leaf, so the finger is that leaf when its
   * bound is at most `key` and the next leaf's is above it.
   */
  private leafFor(key: number): VmaNode | null {
    const f = this.finger;
    if (f !== null && f.low <= key && (f.next === null || key < f.next.low)) return f;
    let node = this.root;
    if (node === null) return null;
    while (!node.leaf) node = node.items[Math.max(0, lastAtOrBelow(node.keys, node.n, key))] as VmaNode;
    this.finger = node;
    return node;
  }

  /** Removes `vma` (held by the tree), then refills or merges nodes left under a quarter full. */
  private remove(vma: Vma): void {
    const leaf = this.leafFor(vma.start)!;
    const pos = lastAtOrBelow(leaf.keys, leaf.n, vma.start);
    if (pos < 0 || leaf.items[pos] !== vma) throw new Error('guest kernel bug: a mapping is not where its start says');
    removeAt(leaf, pos);
    this.count--;
    for (let node = leaf; node.parent !== null && node.n < this.minFill; ) {
      const parent = node.parent;
      const i = indexIn(parent, node);
      // Only the root can be left with one child.
      if (i > 0) this.rebalance(parent, i - 1);
      else if (parent.n > 1) this.rebalance(parent, 0);
      node = parent;
    }
    let root = this.root!;
    while (!root.leaf && root.n === 1) root = root.items[0] as VmaNode;
    root.parent = null;
    this.root = root.n === 0 ? null : root;
    if (this.root === null) this.finger = null;
  }

  /** Children `i` and `i + 1` of `parent`, one of them under-full: merged if they fit in one node, else evened out. */
  private rebalance(parent: VmaNode, i: number): void {
    const a = parent.items[i] as VmaNode;
    const b = parent.items[i + 1] as VmaNode;
    // An inner node's key 0 is its bound in the parent (a leaf's is exact).
    if (!b.leaf) b.keys[0] = parent.keys[i + 1]!;
    if (a.n + b.n <= this.capacity) {
      moveEntries(b, 0, b.n, a, a.n);
      a.n += b.n;
      if (a.leaf) {
        a.next = b.next;
        if (b.next !== null) b.next.prev = a;
        if (this.finger === b) this.finger = a;
      }
      removeAt(parent, i + 1);
      return;
    }
    // Move entries across so both hold about half.
    const wantA = (a.n + b.n) >> 1;
    if (a.n < wantA) {
      const k = wantA - a.n;
      moveEntries(b, 0, k, a, a.n);
      a.n += k;
      b.keys.copyWithin(0, k, b.n);
      for (let j = k; j < b.n; j++) b.items[j - k] = b.items[j]!;
      for (let j = b.n - k; j < b.n; j++) b.items[j] = null;
      b.n -= k;
    } else {
      const k = a.n - wantA;
      b.keys.copyWithin(k, 0, b.n);
      for (let j = b.n - 1; j >= 0; j--) b.items[j + k] = b.items[j]!;
      moveEntries(a, wantA, a.n, b, 0);
      for (let j = wantA; j < a.n; j++) a.items[j] = null;
      b.n += k;
      a.n = wantA;
    }
    parent.keys[i + 1] = b.keys[0]!;
    if (b.leaf) b.low = b.keys[0]!;
  }

  /** Moves the upper half of an over-full `node` to a new node placed after it, and returns that node. */
  private splitNode(node: VmaNode): VmaNode {
    const right = new VmaNode(node.leaf, this.capacity);
    const keep = node.n >> 1;
    moveEntries(node, keep, node.n, right, 0);
    for (let j = keep; j < node.n; j++) node.items[j] = null;
    right.n = node.n - keep;
    node.n = keep;
    right.parent = node.parent;
    if (node.leaf) {
      right.low = right.keys[0]!;
      right.next = node.next;
      right.prev = node;
      if (node.next !== null) node.next.prev = right;
      node.next = right;
    }
    return right;
  }
}

/** A node of the tree: mappings (a leaf) or child nodes (inner), with their keys. */
class VmaNode {
  n = 0;
  readonly keys: Float64Array;
  /** One slot more than the capacity: a node overflows by one before it is split. */
  readonly items: (Vma | VmaNode | null)[];
  parent: VmaNode | null = null;
  /** A leaf's bound: the key that leads to it from its parent (-Infinity for the first leaf). */
  low = -Infinity;
  prev: VmaNode | null = null;
  next: VmaNode | null = null;
  constructor(
    readonly leaf: boolean,
    capacity: number,
  ) {
    this.keys = new Float64Array(capacity + 1);
    this.items = new Array<Vma | VmaNode | null>(capacity + 1).fill(null);
  }
}

/** Copies entries [from, to) of `src` to `dst` from `at` (keys and items; children learn their new parent). */
function moveEntries(src: VmaNode, from: number, to: number, dst: VmaNode, at: number): void {
  dst.keys.set(src.keys.subarray(from, to), at);
  for (let j = from; j < to; j++) {
    const item = src.items[j]!;
    dst.items[at + j - from] = item;
    if (!dst.leaf) (item as VmaNode).parent = dst;
  }
}

/** Where `child` is among `parent`'s children. */
function indexIn(parent: VmaNode, child: VmaNode): number {
  for (let i = 0; i < parent.n; i++) if (parent.items[i] === child) return i;
  throw new Error('guest kernel bug: a mappings tree node is not among its parent\'s children');
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

function insertAt(node: VmaNode, pos: number, key: number, item: Vma | VmaNode): void {
  node.keys.copyWithin(pos + 1, pos, node.n);
  for (let j = node.n; j > pos; j--) node.items[j] = node.items[j - 1]!;
  node.keys[pos] = key;
  node.items[pos] = item;
  node.n++;
}

function removeAt(node: VmaNode, pos: number): void {
  node.keys.copyWithin(pos, pos + 1, node.n);
  for (let j = pos + 1; j < node.n; j++) node.items[j - 1] = node.items[j]!;
  node.n--;
  node.items[node.n] = null;
}
