// Checks DESIGN section 10: the same inputs and program version give
// byte-identical traces; a different seed gives different events.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { record } from '../src/api/record.js';
import { tempDir } from './helpers/temp-dir.js';

const dir = tempDir();

describe('determinism', () => {
  for (const distribution of ['uniform', 'zipf']) {
    it(`hot-set (${distribution}): the same seed records byte-identical files, a different seed differs`, () => {
      const opts = { workload: 'hot-set', durationNs: 50e6, memBytes: 64 << 20, settings: { distribution, rate: 200_000 } };
      const a = join(dir, `a-${distribution}.mst`);
      const b = join(dir, `b-${distribution}.mst`);
      const c = join(dir, `c-${distribution}.mst`);
      record({ ...opts, seed: 42, out: a });
      record({ ...opts, seed: 42, out: b });
      record({ ...opts, seed: 43, out: c });
      expect(readFileSync(a).equals(readFileSync(b))).toBe(true);
      expect(readFileSync(a).equals(readFileSync(c))).toBe(false);
    });
  }
});
