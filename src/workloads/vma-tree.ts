import type { Vma } from './address-space.js';

/**
 * The mappings of one address space, ordered by start and never
 * overlapping, in a balanced search tree. Linux keeps them in a tree for
 * the same reason (the maple tree mm->mm_mt since 6.1, the rbtree mm_rb
 * before): find_vma, mmap and munmap cost the log of the mappings a process
 * has, not their number. An importer that moves page after page of forked
 * processes onto shared frames gives each process tens of thousands of
 * one-page mappings; a sorted array spliced at each edit moved the whole
 * array every time, so import time grew faster than the capture.
 *
 * The tree is a treap (a search tree by start whose nodes also form a heap
 * of priorities): an insert, the removal of a run of consecutive mappings
 * and the search for the one covering a page cost O(log n) expected. The
 * links live in the Vma (as vm_rb lives in vm_area_struct). The priorities
 * come from a fixed xorshift sequence, so the shape is the same in every
 * run; what the rest of the kernel observes is only the order of starts.
 */
export class VmaTree {
  private root: Vma | null = null;
  private count = 0;
  /** The priorities' xorshift32 state (fixed seed: the tree's shape is deterministic). */
  private prioState = 0x2545f491;
  /** split()'s two results (fields, so that no pair is allocated per level). */
  private lo: Vma | null = null;
  private hi: Vma | null = null;

  /** Mappings held. */
  get size(): number {
    return this.count;
  }

  /** The first mapping that ends after `vpn`: the one holding it or, if none does, the next. */
  firstEndingAfter(vpn: number): Vma | undefined {
    let node = this.root;
    let below: Vma | null = null; // the last mapping starting at or before vpn
    let above: Vma | null = null; // the first mapping starting after vpn
    while (node !== null) {
      if (node.start <= vpn) {
        below = node;
        node = node.right;
      } else {
        above = node;
        node = node.left;
      }
    }
    if (below !== null && below.end > vpn) return below;
    return above ?? undefined;
  }

  /** The mapping that covers `vpn`, or undefined. */
  find(vpn: number): Vma | undefined {
    let node = this.root;
    while (node !== null) {
      if (vpn < node.start) node = node.left;
      else if (vpn >= node.end) node = node.right;
      else return node;
    }
    return undefined;
  }

  /** Adds `vma`, which overlaps no mapping held (the caller checked) and is in no tree. */
  insert(vma: Vma): void {
    vma.priority = this.nextPriority();
    this.root = this.insertUnder(this.root, vma);
    this.count++;
  }

  /**
   * Takes out every mapping with a page in [start, end) and returns them in
   * order of start (their links are stale: insert them nowhere again).
   */
  removeRange(start: number, end: number): Vma[] {
    const first = this.firstEndingAfter(start);
    if (first === undefined || first.start >= end) return [];
    // Mappings are disjoint and ordered: the ones starting in [first.start,
    // end) are exactly those the range touches.
    this.split(this.root, first.start);
    const below = this.lo;
    this.split(this.hi, end);
    const removed: Vma[] = [];
    collect(this.lo, removed);
    this.root = merge(below, this.hi);
    this.count -= removed.length;
    return removed;
  }

  /** The mappings in order of start. */
  *[Symbol.iterator](): IterableIterator<Vma> {
    const stack: Vma[] = [];
    let node = this.root;
    while (node !== null || stack.length > 0) {
      while (node !== null) {
        stack.push(node);
        node = node.left;
      }
      const top = stack.pop()!;
      yield top;
      node = top.right;
    }
  }

  private insertUnder(node: Vma | null, vma: Vma): Vma {
    if (node === null) {
      vma.left = vma.right = null;
      return vma;
    }
    if (vma.priority > node.priority) {
      this.split(node, vma.start);
      vma.left = this.lo;
      vma.right = this.hi;
      return vma;
    }
    if (vma.start < node.start) node.left = this.insertUnder(node.left, vma);
    else node.right = this.insertUnder(node.right, vma);
    return node;
  }

  /** Splits `node`'s tree into the mappings starting before `key` (this.lo) and the rest (this.hi). */
  private split(node: Vma | null, key: number): void {
    if (node === null) {
      this.lo = this.hi = null;
    } else if (node.start < key) {
      this.split(node.right, key);
      node.right = this.lo;
      this.lo = node;
    } else {
      this.split(node.left, key);
      node.left = this.hi;
      this.hi = node;
    }
  }

  private nextPriority(): number {
    let x = this.prioState;
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    this.prioState = x;
    return x >>> 0;
  }
}

/** Joins two trees, every mapping of `a` before every mapping of `b`. */
function merge(a: Vma | null, b: Vma | null): Vma | null {
  if (a === null) return b;
  if (b === null) return a;
  if (a.priority >= b.priority) {
    a.right = merge(a.right, b);
    return a;
  }
  b.left = merge(a, b.left);
  return b;
}

/** Appends `node`'s tree in order of start. */
function collect(node: Vma | null, out: Vma[]): void {
  if (node === null) return;
  collect(node.left, out);
  out.push(node);
  collect(node.right, out);
}
