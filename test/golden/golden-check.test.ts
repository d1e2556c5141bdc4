// Replays every golden run trace in traces/golden (guest events regenerated
// from their workloads, every run event and summary re-derived) and fails on
// any difference, as `migsim golden check` does.
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { checkGolden, goldenCases } from '../../src/verify/golden.js';

const dir = join(import.meta.dirname, '..', '..', 'traces', 'golden');

describe('golden traces', () => {
  const cases = goldenCases(dir);

  it('there are golden traces, under 5 MB in all, each with its readable summary', () => {
    expect(cases.length).toBeGreaterThanOrEqual(5);
    const bytes = readdirSync(dir).reduce((a, f) => a + statSync(join(dir, f)).size, 0);
    expect(bytes).toBeLessThan(5 * 1024 * 1024);
    for (const c of cases) expect(statSync(c.summaryFile).size).toBeGreaterThan(0);
  });

  for (const c of cases) {
    it(`${c.name} replays identically`, () => {
      const r = checkGolden(c);
      expect(r.differences).toEqual([]);
      expect(r.ok).toBe(true);
    });
  }
});
