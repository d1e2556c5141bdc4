// The mappings tree (src/workloads/vma-tree.ts) against the sorted array it
// replaced: under any sequence of mmap-like inserts and munmap-like range
// removals, find, firstEndingAfter, the in-order walk and the mappings a
// removal returns are those of a sorted, disjoint list edited by splicing.
// Import's byte-identity across the change is checked by the importers'
// golden hashes (import-determinism) and the golden traces.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Vma } from '../../src/workloads/address-space.js';
import { VmaTree } from '../../src/workloads/vma-tree.js';

type Op = { kind: 'map'; start: number; count: number } | { kind: 'unmap'; start: number; count: number } | { kind: 'probe'; vpn: number };

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
      fc.property(fc.array(op, { maxLength: 200 }), (ops) => {
        const tree = new VmaTree();
        let list: Vma[] = [];
        for (const o of ops) {
          if (o.kind === 'map') {
            const end = o.start + o.count;
            const next = refFirstEndingAfter(list, o.start);
            if (next !== undefined && next.start < end) continue; // mmap refuses overlaps before inserting
            const v = new Vma(o.start, end, 0, -1, o.start);
            tree.insert(v);
            list = [...list, v].sort((a, b) => a.start - b.start);
          } else if (o.kind === 'unmap') {
            const end = o.start + o.count;
            const expected = list.filter((r) => r.start < end && r.end > o.start);
            const removed = tree.removeRange(o.start, end);
            expect(removed).toEqual(expected);
            list = list.filter((r) => !expected.includes(r));
            // munmap puts back the parts that stick out, as GuestVmas.unmap does.
            const first = removed[0];
            const last = removed[removed.length - 1];
            for (const piece of [
              first !== undefined && first.start < o.start ? new Vma(first.start, o.start, 0, -1, first.objPage) : undefined,
              last !== undefined && last.end > end ? new Vma(end, last.end, 0, -1, last.objPage + (end - last.start)) : undefined,
            ]) {
              if (piece === undefined) continue;
              tree.insert(piece);
              list = [...list, piece].sort((a, b) => a.start - b.start);
            }
          } else {
            expect(tree.find(o.vpn)).toBe(list.find((r) => r.start <= o.vpn && o.vpn < r.end));
            expect(tree.firstEndingAfter(o.vpn)).toBe(refFirstEndingAfter(list, o.vpn));
          }
          expect(tree.size).toBe(list.length);
        }
        expect([...tree]).toEqual(list);
      }),
      { numRuns: 300, seed: 15 },
    );
  });

  it('a process of 100,000 one-page mappings is a tree of logarithmic depth, not a list', () => {
    // Inserting in order of start is the worst case for an unbalanced search
    // tree (a list of depth n); the treap's priorities keep the expected
    // depth near 2 ln n (about 23 here): allow four times that.
    const tree = new VmaTree();
    for (let i = 0; i < 100_000; i++) tree.insert(new Vma(2 * i, 2 * i + 1, 0, -1, 0));
    expect(depth(tree)).toBeLessThan(4 * 2 * Math.log(100_000));
  });
});

/** The tree's height, read through the links the tree keeps in each Vma. */
function depth(tree: VmaTree): number {
  const root = (tree as unknown as { root: Vma | null }).root;
  let best = 0;
  const stack: [Vma, number][] = root ? [[root, 1]] : [];
  while (stack.length > 0) {
    const [n, d] = stack.pop()!;
    best = Math.max(best, d);
    if (n.left) stack.push([n.left, d + 1]);
    if (n.right) stack.push([n.right, d + 1]);
  }
  return best;
}
