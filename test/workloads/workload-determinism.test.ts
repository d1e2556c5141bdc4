import { describe, expect, it } from 'vitest';
import { runWorkload } from './run-workload.js';

const CASES: [string, number, Record<string, number | string>][] = [
  ['boot', 1.2e9, { bootTime: 1e9, commands: 20 }],
  ['apache', 1e9, { maxRequestsPerChild: 200 }],
  ['muncher', 0.3e9, { pattern: 'random', rate: 200_000 }],
  ['idle', 0.5e9, {}],
];

describe('workload determinism', () => {
  for (const [name, durationNs, settings] of CASES) {
    it(`${name}: the same seed gives identical event columns, a different seed different ones`, () => {
      const o = { durationNs, settings, memPages: 32_768 };
      const a = runWorkload(name, { ...o, seed: 42 });
      const b = runWorkload(name, { ...o, seed: 42 });
      const c = runWorkload(name, { ...o, seed: 43 });
      expect(a.events).toBeGreaterThan(1000);
      expect(b.digest).toBe(a.digest);
      expect(b.stats).toEqual(a.stats);
      expect(c.digest).not.toBe(a.digest);
    });

    it(`${name}: every event is at or before the end of the run, which idle events reach`, () => {
      const r = runWorkload(name, { durationNs, settings, memPages: 32_768, seed: 7 });
      expect(r.lastNs).toBe(durationNs);
    });
  }
});
