// The mappings tree (src/workloads/vma-tree.ts) against the sorted array it
// replaced: under any sequence of mmap-like inserts and munmap-like range
// removals, find, firstEndingAfter, the in-order walk and the mappings a
// removal reports are those of a sorted, disjoint list edited by splicing,
// whatever the nodes' capacity (small ones make trees of many levels out
// of a few hundred mappings, so splits, merges and refills at every level
// happen, and the finger, the leaf the last operation used, moves through
// them all).
// The tree keeps numbers, not the Vma objects it is given, so mappings are
// compared by value.
// Import's byte-identity across the change is checked by the importers'
// golden hashes (import-determinism) and the golden traces.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Vma } from '../../src/workloads/address-space.js';
import { VmaTree } from '../../src/workloads/vma-tree.js';

function put(tree: VmaTree, v: Vma): void {
  tree.insert(v.start, v.end, v.flags, v.obj, v.objPage);
}

type Op = { kind: 'map'; start: number; count: number } | { kind: 'unmap'; start: number; count: number } | { kind: 'probe'; vpn: number };

/** removeRange's mappings, each as a Vma, in the order it reports them. */
function removeAll(tree: VmaTree, start: number, end: number): Vma[] {
  const removed: Vma[] = [];
  tree.removeRange(start, end, (s, e, flags, obj, objPage) => removed.push(new Vma(s, e, flags, obj, objPage)));
  return removed;
}

const op: fc.Arbitrary<Op> = fc.oneof(
  fc.record({ kind: fc.constant('map' as const), start: fc.integer({ min: 0, max: 400 }), count: fc.integer({ min: 1, max: 20 }) }),
  fc.record({ kind: fc.constant('unmap' as const), start: fc.integer({ min: 0, max: 400 }), count: fc.integer({ min: 1, max: 60 }) }),
  fc.record({ kind: fc.constant('probe' as const), vpn: fc.integer({ min: 0, max: 430 }) }),
);

/** The reference: the sorted array and its linear scans. */
function refFirstEndingAfter(list: readonly Vma[], vpn: number): Vma | undefined {
  return list.find((r) => r.end > vpn);
}

describe('VmaTree keeps mappings as a sorted disjoint list does', () => {
  it('find, firstEndingAfter, order and removals agree with splicing a sorted array, for any edits', () => {
    fc.assert(
      fc.property(fc.constantFrom([4, 4], [5, 8], [8, 4], [32, 128]), fc.array(op, { maxLength: 400 }), ([leaves, inner], ops) => {
        const tree = new VmaTree(leaves, inner);
        let list: Vma[] = [];
        for (const o of ops) {
          if (o.kind === 'map') {
            const end = o.start + o.count;
            const next = refFirstEndingAfter(list, o.start);
            if (next !== undefined && next.start < end) continue; // mmap refuses overlaps before inserting
            // Flags and objects vary, so a leaf's numbers are seen to move with their starts.
            const v = new Vma(o.start, end, o.start % 8, (o.start % 5) - 1, o.start);
            put(tree, v);
            list = [...list, v].sort((a, b) => a.start - b.start);
          } else if (o.kind === 'unmap') {
            const end = o.start + o.count;
            const expected = list.filter((r) => r.start < end && r.end > o.start);
            const removed = removeAll(tree, o.start, end);
            expect(removed).toEqual(expected);
            list = list.filter((r) => !expected.includes(r));
            // munmap puts back the parts that stick out, as GuestVmas.unmap does.
            const first = removed[0];
            const last = removed[removed.length - 1];
            for (const piece of [
              first !== undefined && first.start < o.start ? new Vma(first.start, o.start, first.flags, first.obj, first.objPage) : undefined,
              last !== undefined && last.end > end ? new Vma(end, last.end, last.flags, last.obj, last.objPage + (end - last.start)) : undefined,
            ]) {
              if (piece === undefined) continue;
              put(tree, piece);
              list = [...list, piece].sort((a, b) => a.start - b.start);
            }
          } else {
            expect(tree.find(o.vpn)).toEqual(list.find((r) => r.start <= o.vpn && o.vpn < r.end));
            expect(tree.firstEndingAfter(o.vpn)).toEqual(refFirstEndingAfter(list, o.vpn));
            const upTo = o.vpn + 1 + (o.vpn % 7);
            expect(tree.overlaps(o.vpn, upTo)).toBe(list.some((r) => r.start < upTo && r.end > o.vpn));
          }
          expect(tree.size).toBe(list.length);
        }
        expect([...tree]).toEqual(list);
      }),
      { numRuns: 300, seed: 15 },
    );
  });

  it('agrees with the sorted array over long runs of edits that loosen the inner keys', () => {
    // A removal leaves the inner keys above a leaf as they were, so a leaf
    // can start above its bound and the mapping covering a page below its
    // first start sits in the leaf before; merges and refills then carry
    // such bounds between inner nodes. Short random runs seldom build
    // that: 20,000 edits of one- to three-page mappings packed in 600
    // pages, at capacities that make deep trees, do.
    for (const capacity of [4, 5, 6]) {
      let x = 0x9e3779b9 ^ capacity;
      const rand = (n: number) => {
        x ^= x << 13;
        x ^= x >>> 17;
        x ^= x << 5;
        return (x >>> 0) % n;
      };
      const tree = new VmaTree(capacity, capacity);
      let list: Vma[] = [];
      // Differences are gathered, not asserted one by one: 60,000 expect calls take seconds.
      const wrong: string[] = [];
      for (let step = 0; step < 20_000; step++) {
        const start = rand(600);
        const end = start + 1 + rand(3);
        if (rand(2) === 0) {
          if (!list.some((r) => r.start < end && r.end > start)) {
            const v = new Vma(start, end, step % 8, (step % 3) - 1, step);
            put(tree, v);
            const at = list.findIndex((r) => r.start > start);
            list.splice(at < 0 ? list.length : at, 0, v);
          }
        } else {
          const expected = list.filter((r) => r.start < end && r.end > start);
          const removed = removeAll(tree, start, end);
          if (removed.length !== expected.length || removed.some((r, k) => !same(r, expected[k]))) wrong.push(`step ${step}: removeRange(${start}, ${end})`);
          list = list.filter((r) => !expected.includes(r));
        }
        const vpn = rand(610);
        if (!same(tree.find(vpn), list.find((r) => r.start <= vpn && vpn < r.end))) wrong.push(`step ${step}: find(${vpn})`);
        if (!same(tree.firstEndingAfter(vpn), refFirstEndingAfter(list, vpn))) wrong.push(`step ${step}: firstEndingAfter(${vpn})`);
      }
      expect(wrong.slice(0, 5)).toEqual([]);
      expect(leafBoundsChained(tree)).toBe(true);
      expect(tree.size).toBe(list.length);
      expect([...tree]).toEqual(list);
    }
  });

  it('a process of 100,000 one-page mappings is a tree of logarithmic depth, and stays one as they go', () => {
    // In order of start is the worst case for an unbalanced search tree (a
    // list of depth n). Leaves hold 32 mappings and inner nodes 128
    // children, and both split in halves, so after inserts every leaf holds
    // at least 16 (at most 6,250 leaves) and every inner node but the root
    // at least 64 children (at most 98 above the leaves, which one root of
    // 128 holds): 3 levels. Removing every other mapping, then all but the
    // last few, must merge nodes back (a quarter full at least: 8 mappings
    // a leaf).
    const tree = new VmaTree();
    const all: Vma[] = [];
    for (let i = 0; i < 100_000; i++) {
      const v = new Vma(2 * i, 2 * i + 1, 0, -1, 0);
      all.push(v);
      put(tree, v);
    }
    expect(depth(tree)).toBe(3);
    for (let i = 0; i < 100_000; i += 2) removeAll(tree, 2 * i, 2 * i + 1);
    expect(tree.size).toBe(50_000);
    expect(depth(tree)).toBeLessThanOrEqual(1 + Math.ceil(Math.log(50_000) / Math.log(8)));
    expect(removeAll(tree, 0, 2 * 99_990)).toHaveLength(49_995);
    expect([...tree]).toEqual(all.slice(99_991).filter((_, k) => k % 2 === 0));
    expect(depth(tree)).toBe(1);
  });
});

/** Two mappings (or none) with the same fields. */
function same(a: Vma | undefined, b: Vma | undefined): boolean {
  if (a === undefined || b === undefined) return a === b;
  return a.start === b.start && a.end === b.end && a.flags === b.flags && a.obj === b.obj && a.objPage === b.objPage;
}

/** The tree's height (1: the root is a leaf), read through the nodes' children. */
function depth(tree: VmaTree): number {
  let node = (tree as unknown as { root: { leaf: boolean; children: unknown[] | null } | null }).root;
  let d = 0;
  while (node !== null) {
    d++;
    node = node.leaf ? null : (node.children![0] as typeof node);
  }
  return d;
}

/**
 * Each leaf's upper bound (`high`, which the finger's check reads) is the
 * next leaf's lower bound, and the last leaf's is Infinity: read through
 * the nodes, since a stale bound only shows as a lookup that goes to the
 * wrong leaf when the finger happens to sit on it.
 */
function leafBoundsChained(tree: VmaTree): boolean {
  type Node = { leaf: boolean; children: Node[] | null; next: Node | null; low: number; high: number };
  let node = (tree as unknown as { root: Node | null }).root;
  if (node === null) return true;
  while (!node.leaf) node = node.children![0]!;
  for (let leaf: Node | null = node; leaf !== null; leaf = leaf.next) {
    if (leaf.high !== (leaf.next === null ? Infinity : leaf.next.low)) return false;
  }
  return true;
}
