// Checks the max-min solver against shares worked out by hand (SimGrid's
// lmm rules): equal split on one bottleneck, a capped stream leaving its
// unused share, and a stream limited by a narrower second link.
import { describe, expect, it } from 'vitest';
import { maxMinShare } from '../../src/fleet/max-min-share.js';

describe('max-min fair sharing', () => {
  it('two streams on one link each get half of it', () => {
    const r = maxMinShare({ capacityBytesPerSec: [100], streamLinks: [[0], [0]], streamCapBytesPerSec: [Infinity, Infinity] });
    expect([...r]).toEqual([50, 50]);
  });

  it('a stream capped below its share leaves the rest to the others', () => {
    const r = maxMinShare({ capacityBytesPerSec: [100], streamLinks: [[0], [0], [0]], streamCapBytesPerSec: [10, Infinity, Infinity] });
    // 10 for the capped one, (100 - 10) / 2 for each other.
    expect([...r]).toEqual([10, 45, 45]);
  });

  it('a stream held by a narrower link frees capacity on the wide one', () => {
    // Link 0 (100) carries streams 0 and 1; link 1 (20) also carries stream 1.
    const r = maxMinShare({ capacityBytesPerSec: [100, 20], streamLinks: [[0], [0, 1]], streamCapBytesPerSec: [Infinity, Infinity] });
    expect([...r]).toEqual([80, 20]);
  });

  it('a cap above the fair share changes nothing', () => {
    const r = maxMinShare({ capacityBytesPerSec: [100], streamLinks: [[0], [0]], streamCapBytesPerSec: [60, Infinity] });
    expect([...r]).toEqual([50, 50]);
  });
});
