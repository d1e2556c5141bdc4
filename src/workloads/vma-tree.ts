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
 * start may be above its bound, which firstEndingAfter allows for. Nodes
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
  /** The inner nodes of the latest descent and the child taken in each (no array allocated per call). */
  private readonly pathNode: VmaNode[] = [];
  private pathIdx = new Int32Array(16);
  private depth = 0;

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
    // any, ends the leaf before (the bound that led here is at most vpn).
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
    if (this.root === null) {
      const leaf = new VmaNode(true, this.capacity);
      leaf.keys[0] = key;
      leaf.items[0] = vma;
      leaf.n = 1;
      this.root = leaf;
      return;
    }
    const leaf = this.descend(key);
    insertAt(leaf, lastAtOrBelow(leaf.keys, leaf.n, key) + 1, key, vma);
    let node = leaf;
    for (let d = this.depth; node.n > this.capacity; d--) {
      const right = this.splitNode(node);
      if (d === 0) {
        const top = new VmaNode(false, this.capacity);
        top.keys[0] = node.keys[0]!;
        top.items[0] = node;
        top.keys[1] = right.keys[0]!;
        top.items[1] = right;
        top.n = 2;
        this.root = top;
        return;
      }
      const parent = this.pathNode[d - 1]!;
      insertAt(parent, this.pathIdx[d - 1]! + 1, right.keys[0]!, right);
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

  /** The leaf where `key` belongs, the inner nodes above it in pathNode/pathIdx (depth: their number). */
  private descend(key: number): VmaNode {
    let node = this.root!;
    let d = 0;
    while (!node.leaf) {
      const i = Math.max(0, lastAtOrBelow(node.keys, node.n, key));
      if (d === this.pathIdx.length) {
        const grown = new Int32Array(d * 2);
        grown.set(this.pathIdx);
        this.pathIdx = grown;
      }
      this.pathNode[d] = node;
      this.pathIdx[d] = i;
      d++;
      node = node.items[i] as VmaNode;
    }
    this.depth = d;
    return node;
  }

  /** The leaf where `key` belongs, without recording the path. */
  private leafFor(key: number): VmaNode | null {
    let node = this.root;
    if (node === null) return null;
    while (!node.leaf) node = node.items[Math.max(0, lastAtOrBelow(node.keys, node.n, key))] as VmaNode;
    return node;
  }

  /** Removes `vma` (held by the tree), then refills or merges nodes left under a quarter full. */
  private remove(vma: Vma): void {
    const leaf = this.descend(vma.start);
    const pos = lastAtOrBelow(leaf.keys, leaf.n, vma.start);
    if (pos < 0 || leaf.items[pos] !== vma) throw new Error('guest kernel bug: a mapping is not where its start says');
    removeAt(leaf, pos);
    this.count--;
    let node = leaf;
    for (let d = this.depth; d > 0 && node.n < this.minFill; d--) {
      const parent = this.pathNode[d - 1]!;
      const i = this.pathIdx[d - 1]!;
      if (i > 0) this.rebalance(parent, i - 1);
      else if (parent.n > 1) this.rebalance(parent, 0);
      node = parent;
    }
    let root = this.root!;
    while (!root.leaf && root.n === 1) root = root.items[0] as VmaNode;
    this.root = root.n === 0 ? null : root;
  }

  /** Children `i` and `i + 1` of `parent`, one of them under-full: merged if they fit in one node, else evened out. */
  private rebalance(parent: VmaNode, i: number): void {
    const a = parent.items[i] as VmaNode;
    const b = parent.items[i + 1] as VmaNode;
    // An inner node's key 0 is its bound in the parent (a leaf's is exact).
    if (!b.leaf) b.keys[0] = parent.keys[i + 1]!;
    if (a.n + b.n <= this.capacity) {
      a.keys.set(b.keys.subarray(0, b.n), a.n);
      for (let j = 0; j < b.n; j++) a.items[a.n + j] = b.items[j]!;
      a.n += b.n;
      if (a.leaf) {
        a.next = b.next;
        if (b.next !== null) b.next.prev = a;
      }
      removeAt(parent, i + 1);
      return;
    }
    // Move entries across so both hold about half.
    const total = a.n + b.n;
    const wantA = total >> 1;
    if (a.n < wantA) {
      const k = wantA - a.n;
      a.keys.set(b.keys.subarray(0, k), a.n);
      for (let j = 0; j < k; j++) a.items[a.n + j] = b.items[j]!;
      a.n += k;
      b.keys.copyWithin(0, k, b.n);
      for (let j = k; j < b.n; j++) b.items[j - k] = b.items[j]!;
      for (let j = b.n - k; j < b.n; j++) b.items[j] = null;
      b.n -= k;
    } else {
      const k = a.n - wantA;
      b.keys.copyWithin(k, 0, b.n);
      for (let j = b.n - 1; j >= 0; j--) b.items[j + k] = b.items[j]!;
      b.keys.set(a.keys.subarray(wantA, a.n), 0);
      for (let j = 0; j < k; j++) {
        b.items[j] = a.items[wantA + j]!;
        a.items[wantA + j] = null;
      }
      b.n += k;
      a.n = wantA;
    }
    parent.keys[i + 1] = b.keys[0]!;
  }

  /** Moves the upper half of an over-full `node` to a new node placed after it, and returns that node. */
  private splitNode(node: VmaNode): VmaNode {
    const right = new VmaNode(node.leaf, this.capacity);
    const keep = node.n >> 1;
    const moved = node.n - keep;
    right.keys.set(node.keys.subarray(keep, node.n), 0);
    for (let j = 0; j < moved; j++) {
      right.items[j] = node.items[keep + j]!;
      node.items[keep + j] = null;
    }
    right.n = moved;
    node.n = keep;
    if (node.leaf) {
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
