// The typed-array pool a sweep's thread hands from one run to the next
// (src/util/array-pool.ts): an array handed out again is the same memory,
// zero-filled, so a run sees exactly what `new` would give it; only large
// arrays and only inside a pool's scope come from it; and a run's results
// are the same with the pool as without (two runs of the same shape in a
// row, the second on the first one's arrays).
import { describe, expect, it } from 'vitest';
import { guestSource } from '../../src/api/guest-source.js';
import { runMigration } from '../../src/api/run-migration.js';
import { DEFAULT_GUEST } from '../../src/model/guest-config.js';
import { ArrayPool, withArrayPool, zeroed } from '../../src/util/array-pool.js';

/** 64 KiB of Int32 (the smallest pooled size) and one element less. */
const POOLED = 16 * 1024;

describe('ArrayPool', () => {
  it('hands an array back, zero-filled, to the next scope that asks for the same type and length', () => {
    const pool = new ArrayPool();
    const first = withArrayPool(pool, () => {
      const a = zeroed(Int32Array, POOLED);
      a.fill(7);
      return a;
    });
    const again = withArrayPool(pool, () => zeroed(Int32Array, POOLED));
    expect(again).toBe(first);
    expect(again.every((v) => v === 0)).toBe(true);
    // Another length or another type is another array.
    withArrayPool(pool, () => {
      expect(zeroed(Int32Array, POOLED * 2)).not.toBe(first);
      expect(zeroed(Uint32Array, POOLED)).not.toBe(first);
    });
  });

  it('gives two arrays of one shape in one scope two memories', () => {
    const pool = new ArrayPool();
    withArrayPool(pool, () => [zeroed(Float64Array, POOLED), zeroed(Float64Array, POOLED)]);
    withArrayPool(pool, () => {
      const a = zeroed(Float64Array, POOLED);
      const b = zeroed(Float64Array, POOLED);
      expect(a).not.toBe(b);
      expect(a.buffer).not.toBe(b.buffer);
    });
  });

  it('allocates small arrays, and any array outside a scope, as new', () => {
    const pool = new ArrayPool();
    const small = withArrayPool(pool, () => zeroed(Int32Array, POOLED - 1));
    withArrayPool(pool, () => expect(zeroed(Int32Array, POOLED - 1)).not.toBe(small));
    const outside = zeroed(Int32Array, POOLED);
    withArrayPool(pool, () => expect(zeroed(Int32Array, POOLED)).not.toBe(outside));
  });

  it('takes the arrays back when the scope throws, and refuses a scope inside a scope', () => {
    const pool = new ArrayPool();
    let held: Int32Array | undefined;
    expect(() =>
      withArrayPool(pool, () => {
        held = zeroed(Int32Array, POOLED);
        throw new Error('run failed');
      }),
    ).toThrow('run failed');
    expect(withArrayPool(pool, () => zeroed(Int32Array, POOLED))).toBe(held);
    expect(() => withArrayPool(pool, () => withArrayPool(new ArrayPool(), () => 0))).toThrow(/already active/);
  });

  it('lets go of an array no scope has taken for 16 scopes (a grid that moved on to other guest sizes)', () => {
    const pool = new ArrayPool();
    const big = withArrayPool(pool, () => zeroed(Int32Array, POOLED * 4));
    // 15 scopes of another shape: the big array is still held, and is taken again.
    for (let i = 0; i < 15; i++) withArrayPool(pool, () => zeroed(Int32Array, POOLED));
    expect(pool.freeBytes).toBe(POOLED * 4 * 4 + POOLED * 4);
    expect(withArrayPool(pool, () => zeroed(Int32Array, POOLED * 4))).toBe(big);
    // 16 scopes without it: dropped, only the shape still in use is held.
    for (let i = 0; i < 16; i++) withArrayPool(pool, () => zeroed(Int32Array, POOLED));
    expect(pool.freeBytes).toBe(POOLED * 4);
    expect(withArrayPool(pool, () => zeroed(Int32Array, POOLED * 4))).not.toBe(big);
  });

  it("leaves a run's summary unchanged when its arrays are the run before's (same shape, other seed, other tracker)", () => {
    const source = (seed: number) => guestSource('apache', { seed, durationNs: 200_000_000, memBytes: DEFAULT_GUEST.memBytes, vcpus: DEFAULT_GUEST.vcpus, guest: DEFAULT_GUEST.guest, paging: DEFAULT_GUEST.paging, settings: {} });
    const run = (seed: number, tracker: 'hap' | 'pml') => JSON.stringify(runMigration(source(seed), { tracker, migration: { bandwidthBytesPerSec: 125e6 } }));
    const fresh = run(2, 'pml');
    const pool = new ArrayPool();
    withArrayPool(pool, () => run(1, 'hap'));
    expect(withArrayPool(pool, () => run(2, 'pml'))).toBe(fresh);
  });
});
