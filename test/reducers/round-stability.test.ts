// Working-set stability under fixed log-dirty rounds: each round reports
// the share of its dirty pages that were dirty in the round before too
// (|A ∩ B| / |B|) and the Jaccard index of the two sets (|A ∩ B| / |A ∪ B|).
import { describe, expect, it } from 'vitest';
import { runRounds } from '../../src/api/run-rounds.js';
import type { WorkloadDefinition } from '../../src/workloads/workload.js';
import { config, customSource } from '../helpers/custom-source.js';

/** Round k (10 ms each) writes pages [100k, 100k + 200): consecutive rounds share half their pages. */
const slidingWindow: WorkloadDefinition = {
  name: 'test-sliding-window',
  description: 'each 10 ms, a window of 200 pages that slides by 100',
  usesMmu: false,
  params: [],
  generate(c, out) {
    for (let k = 0; k < 5; k++) {
      for (let i = 0; i < 200; i++) out.physWrite(k * 10_000_000 + 1_000 + i * 1_000, 0, 100 * k + i, 8);
    }
    out.idle(c.durationNs, 0);
  },
};

describe('round stability', () => {
  it('a window sliding by half its size shares half of each round with the one before: overlap 1/2, Jaccard 1/3', () => {
    const s = runRounds(customSource(slidingWindow, config(4096, 50e6)), { tracker: 'hap', p2m: '4k', roundNs: 10e6, startNs: 0 });
    expect(s.rounds[0]!.overlapWithPrevious).toBeUndefined();
    for (const r of s.rounds.slice(1, 5)) {
      expect(r.dirtyPages).toBe(200);
      expect(r.overlapWithPrevious).toBeCloseTo(0.5, 10);
      expect(r.jaccardWithPrevious).toBeCloseTo(1 / 3, 10);
    }
  });
});
