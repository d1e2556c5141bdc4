// QEMU's send cursor survives a bitmap sync: ram_find_and_save_block resumes
// from rs->last_seen_block / rs->last_page (migration/ram.c), and
// find_dirty_block wraps to the start of memory only at the end of it. After
// a sync mid-pass, the next page sent is the one after the last page sent
// before it, not pfn 0.
import { afterEach, describe, expect, it, vi } from 'vitest';
import { runMigration } from '../../src/api/run-migration.js';
import { PageOracle } from '../../src/reducers/page-oracle.js';
import { Tracker } from '../../src/reducers/tracker.js';
import type { WorkloadDefinition } from '../../src/workloads/workload.js';
import { config, customSource } from '../helpers/custom-source.js';

const M = 8192;
const PAGE_WIRE = 4096 + 8;

/** Writes every page once, then keeps writing the low 3,000 pages at 3,000 pages/s. */
const lowWriter: WorkloadDefinition = {
  name: 'test-low-writer',
  description: 'writes all memory once, then the low pages over and over',
  usesMmu: false,
  params: [],
  generate(c, out) {
    for (let p = 0; p < c.memPages; p++) out.physWrite(0, 0, p, 4096);
    for (let i = 0; ; i++) {
      const t = 1_000_000 + i * 333_333;
      if (t > c.durationNs) break;
      out.physWrite(t, 0, i % 3000, 8);
    }
  },
};

afterEach(() => vi.restoreAllMocks());

describe("QEMU's send cursor", () => {
  it('after a sync, the next page sent follows the last page sent before it, not pfn 0', () => {
    const log: (number | 'sync')[] = [];
    const send = PageOracle.prototype.send;
    vi.spyOn(PageOracle.prototype, 'send').mockImplementation(function (this: PageOracle, pfn: number) {
      log.push(pfn);
      send.call(this, pfn);
    });
    const clean = Tracker.prototype.clean;
    vi.spyOn(Tracker.prototype, 'clean').mockImplementation(function (this: Tracker, wallNs: number) {
      log.push('sync');
      return clean.call(this, wallNs);
    });
    // 1,000 pages a second live, a 1 s downtime limit: the threshold is about
    // 1,000 pages, reached with about that many pages of the first pass left;
    // the sync then adds the 3,000 low pages, so the pass goes on.
    runMigration(customSource(lowWriter, config(M, 30e9)), {
      tracker: 'hap',
      p2m: '4k',
      migration: { policy: 'qemu', startNs: 2_000_000, bandwidthBytesPerSec: 100_000 * PAGE_WIRE, maxBandwidthBytesPerSec: 1_000 * PAGE_WIRE, downtimeLimitNs: 1e9, afterEnd: 'stop' },
    });
    const firstSync = log.indexOf('sync');
    expect(firstSync).toBeGreaterThan(0);
    const before = log[firstSync - 1] as number;
    const after = log[firstSync + 1] as number;
    // The sync came mid-pass: pages above the cursor were still due.
    expect(before).toBeLessThan(M - 1);
    expect(after).toBe(before + 1);
  });
});
