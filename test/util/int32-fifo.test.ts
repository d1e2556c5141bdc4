// Checks the fixed-ring FIFO the apache workload queues its workers and
// tasks in: first in first out across the ring's wrap, and a full or empty
// queue refused with the queue's name rather than overwritten or read stale.
import { describe, expect, it } from 'vitest';
import { Int32Fifo } from '../../src/util/int32-fifo.js';

describe('Int32Fifo', () => {
  it('gives values back in the order pushed, across many wraps of its ring', () => {
    const q = new Int32Fifo(3, 'test queue');
    const out: number[] = [];
    let next = 0;
    for (let round = 0; round < 10; round++) {
      q.push(next++);
      q.push(next++);
      out.push(q.shift());
      q.push(next++);
      out.push(q.shift(), q.shift());
    }
    expect(out).toEqual(Array.from({ length: 30 }, (_, k) => k));
    expect(q.size).toBe(0);
  });

  it('refuses a push into a full queue and a shift from an empty one, naming the queue', () => {
    const q = new Int32Fifo(2, 'apache: run queue');
    q.push(-1);
    q.push(0x7fff_ffff);
    expect(() => q.push(5)).toThrow('apache: run queue overflow (2 entries)');
    expect(q.shift()).toBe(-1);
    expect(q.shift()).toBe(0x7fff_ffff);
    expect(() => q.shift()).toThrow('apache: run queue: shift from an empty queue');
  });
});
