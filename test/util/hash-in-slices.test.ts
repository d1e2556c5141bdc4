// Checks that a hash fed in slices (src/util/hash-in-slices.ts, for the
// state digest of guests of 2 TiB and more, whose per-page arrays pass
// Hash.update's 2 GiB limit) is the hash of the whole: same digest for
// every slice size, the last slice short or not.
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { HASH_SLICE_BYTES, hashInSlices } from '../../src/util/hash-in-slices.js';

describe('hashInSlices', () => {
  it('gives the digest of one update, whatever the slice', () => {
    const bytes = Uint8Array.from({ length: 1000 }, (_, i) => (i * 37) & 0xff);
    const whole = createHash('sha256').update(bytes).digest('hex');
    for (const slice of [1, 7, 250, 999, 1000, 4096]) {
      const h = createHash('sha256');
      hashInSlices(h, bytes, slice);
      expect(h.digest('hex')).toBe(whole);
    }
  });

  it('slices below the 2 GiB Hash.update refuses', () => {
    expect(HASH_SLICE_BYTES).toBeLessThan(2 ** 31 - 1);
  });
});
