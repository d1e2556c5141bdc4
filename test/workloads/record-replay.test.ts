// Checks that every built-in workload, with its default parameters, records
// through the CLI and replays identically with `migsim replay --verify`.
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { WORKLOADS } from '../../src/workloads/registry.js';
import { runCli } from '../cli/cli-run.js';
import { tempDir } from '../helpers/temp-dir.js';

const dir = tempDir();

describe('every workload records and replays', () => {
  for (const w of WORKLOADS) {
    it(`${w.name}: default parameters record and replay --verify identical`, async () => {
      const file = join(dir, `${w.name}.mst`);
      const rec = await runCli('record', w.name, '-o', file, '--seed', '5', '--duration', '1s');
      expect(rec.code, rec.err).toBe(0);
      const rep = await runCli('replay', file, '--verify');
      expect(rep.code, rep.out).toBe(0);
      expect(rep.out).toContain('identical');
    });
  }
});
