// Checks the binary min-heap the rtdirty importer schedules each vCPU's
// work with: items come out in the caller's order whatever order they went
// in, ties broken by the caller's tie-break, and a top item whose key grew
// goes back to its place.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { BinaryHeap } from '../../src/util/binary-heap.js';

interface Item {
  key: number;
  readonly seq: number;
}

const byKeyThenSeq = (a: Item, b: Item) => a.key < b.key || (a.key === b.key && a.seq < b.seq);

function drain(h: BinaryHeap<Item>): Item[] {
  const out: Item[] = [];
  for (let x = h.pop(); x !== undefined; x = h.pop()) out.push(x);
  return out;
}

describe('BinaryHeap', () => {
  it('gives items back in (key, sequence) order, whatever order they were pushed in', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: -5, max: 5 }), { maxLength: 200 }), (keys) => {
        const h = new BinaryHeap(byKeyThenSeq);
        const items = keys.map((key, seq) => ({ key, seq }));
        for (const it of items) h.push(it);
        expect(h.size).toBe(items.length);
        const sorted = [...items].sort((a, b) => a.key - b.key || a.seq - b.seq);
        expect(drain(h)).toEqual(sorted);
        expect(h.size).toBe(0);
      }),
    );
  });

  it('moves a top item whose key grew to its place (topIncreased)', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: 50 }), { minLength: 1, maxLength: 100 }), fc.array(fc.integer({ min: 0, max: 20 }), { maxLength: 50 }), (keys, steps) => {
        const h = new BinaryHeap(byKeyThenSeq);
        const items = keys.map((key, seq) => ({ key, seq }));
        for (const it of items) h.push(it);
        for (const step of steps) {
          h.peek()!.key += step;
          h.topIncreased();
        }
        const sorted = [...items].sort((a, b) => a.key - b.key || a.seq - b.seq);
        expect(drain(h)).toEqual(sorted);
      }),
    );
  });

  it('peeks without removing, and an empty heap gives undefined', () => {
    const h = new BinaryHeap(byKeyThenSeq);
    expect(h.peek()).toBeUndefined();
    expect(h.pop()).toBeUndefined();
    h.push({ key: 2, seq: 0 });
    h.push({ key: 1, seq: 1 });
    expect(h.peek()).toEqual({ key: 1, seq: 1 });
    expect(h.size).toBe(2);
    expect(h.pop()).toEqual({ key: 1, seq: 1 });
    expect(h.pop()).toEqual({ key: 2, seq: 0 });
    expect(h.pop()).toBeUndefined();
    expect(h.size).toBe(0);
  });
});
