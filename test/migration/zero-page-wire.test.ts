// Each toolstack's own rule for zero pages on the wire (DESIGN section 4):
// Xen's stream carries every populated page in full (xg_sr_save.c
// write_batch writes PAGE_SIZE bytes for each pfn with stream data;
// xc_domain_save the same), QEMU sends a zero page as a flag in its header
// and a byte of fill (migration/ram.c save_zero_page: save_page_header,
// then qemu_put_byte(file, 0)).
import { describe, expect, it } from 'vitest';
import { runMigration } from '../../src/api/run-migration.js';
import { DEFAULT_COSTS } from '../../src/model/cost-model.js';
import type { WorkloadDefinition } from '../../src/workloads/workload.js';
import { config, customSource } from '../helpers/custom-source.js';

const M = 4096;
const WRITTEN = 1000;
const HEADER = DEFAULT_COSTS.pageHeaderBytes;

/** Writes the first WRITTEN pages once, then idles: the rest of memory is never written. */
const writeOnce: WorkloadDefinition = {
  name: 'test-write-once',
  description: 'writes the first pages once, then idles',
  usesMmu: false,
  params: [],
  generate(c, out) {
    for (let p = 0; p < WRITTEN; p++) out.physWrite(1000 * (p + 1), 0, p, 8);
    out.idle(c.durationNs, 0);
  },
};

const source = () => customSource(writeOnce, config(M, 2e9));

describe('zero pages on the wire', () => {
  for (const policy of ['xen', 'xen-legacy'] as const) {
    it(`${policy} sends 4096 + 8 bytes for every page, never written or not (xg_sr_save.c write_batch)`, () => {
      const s = runMigration(source(), { tracker: 'hap', p2m: '4k', migration: { policy, startNs: 1e9 } });
      expect(s.outcome).toBe('completed');
      expect(s.rounds[0]!.pagesSent).toBe(M);
      expect(s.rounds[0]!.bytesSent).toBe(M * (4096 + HEADER));
      expect(s.zeroPagesSent).toBe(0);
    });
  }

  it('qemu sends a never-written page as its header and one byte of fill, 9 bytes (ram.c save_zero_page)', () => {
    const s = runMigration(source(), { tracker: 'hap', p2m: '4k', migration: { policy: 'qemu', startNs: 1e9 } });
    expect(s.outcome).toBe('completed');
    // The first round sends all of memory: the written pages in full, the rest as headers.
    const first = s.rounds[0]!;
    expect(first.zeroPages).toBe(first.pagesSent - WRITTEN);
    expect(first.bytesSent).toBe(WRITTEN * (4096 + HEADER) + first.zeroPages * (HEADER + 1));
  });
});
