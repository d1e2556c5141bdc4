// QEMU's XBZRLE (migration/ram.c save_xbzrle_page, xbzrle.c
// xbzrle_encode_buffer, page_cache.c): after the first pass, a page in the
// cache goes as a delta against the copy last sent; the delta's size follows
// the bytes the guest stored since (ULEB128 run lengths around the changed
// bytes); a miss goes in full and is cached; a delta over a page overflows
// and the page goes in full. Sizes below come from the encoding's format.
import { describe, expect, it } from 'vitest';
import { runMigration } from '../../src/api/run-migration.js';
import { DEFAULT_COSTS } from '../../src/model/cost-model.js';
import { XBZRLE_FRAMING_BYTES, XbzrleCache, xbzrleEncodedBytes } from '../../src/reducers/migration/xbzrle-cache.js';
import type { WorkloadDefinition } from '../../src/workloads/workload.js';
import { config, customSource } from '../helpers/custom-source.js';

const M = 4096;
const HOT = 16;
const PERIOD_NS = 100_000_000;
const HEADER = DEFAULT_COSTS.pageHeaderBytes;

/** A page rewritten in full every 10 us: always dirty, so the migration never runs out of work while the guest runs; its deltas always overflow. */
const SPINNER = 3000;

/**
 * Fills every page, then stores `bytes` into each of HOT pages once every
 * 100 ms, the pages' stores spread over the period, while SPINNER is
 * rewritten in full every 10 us. The migration is told a downtime limit it
 * cannot meet while the spinner runs (a threshold under one page): it syncs
 * and sends each dirty page within microseconds of its store, so each hot
 * page is stored into exactly once between two of its sends.
 */
function hotWriter(bytes: number): WorkloadDefinition {
  return {
    name: 'test-hot-writer',
    description: 'fills memory, then rewrites a few pages with one store each',
    usesMmu: false,
    params: [],
    generate(c, out) {
      for (let p = 0; p < c.memPages; p++) out.physWrite(1000, 0, p, 4096);
      let next = 2_000_000;
      let h = 0;
      for (let t = 10_000; t <= c.durationNs; t += 10_000) {
        out.physWrite(t, 0, SPINNER, 4096);
        if (t >= next) {
          out.physWrite(t, 0, 100 + h * 7, bytes);
          h = (h + 1) % HOT;
          next += PERIOD_NS / HOT;
        }
      }
    },
  };
}

function run(bytes: number, cacheBytes = 64 * 1024 * 1024) {
  return runMigration(customSource(hotWriter(bytes), config(M, 0.5e9)), {
    tracker: 'hap',
    p2m: '4k',
    migration: { policy: 'qemu', startNs: 1e6, downtimeLimitNs: 1000, xbzrleCacheBytes: cacheBytes },
  });
}

describe('XBZRLE', () => {
  it('XBZRLE sends deltas on cache hits sized by the bytes written', () => {
    for (const bytes of [8, 1000]) {
      const s = run(bytes);
      expect(s.outcome).toBe('completed');
      expect(s.lostPages).toBe(0);
      const x = s.dataPath!.xbzrle!;
      // One store: one changed run of `bytes` among unchanged bytes, each run's length as ULEB128.
      const uleb = (n: number) => (n < 128 ? 1 : 2);
      const encoded = bytes + uleb(4096 - bytes) + uleb(bytes);
      expect(xbzrleEncodedBytes(bytes, 1)).toBe(encoded);
      expect(x.pages).toBeGreaterThan(HOT * 2);
      expect(x.bytes).toBe(x.pages * (HEADER + XBZRLE_FRAMING_BYTES + encoded));
      expect(x.bytesSaved).toBe(x.pages * (4096 + HEADER) - x.bytes);
      // Only the spinner overflows.
      expect(x.overflows).toBeGreaterThan(0);
      expect(x.cacheHits).toBe(x.pages + x.overflows + x.unchanged);
      // First-round pages are not encoded nor cached (rs->xbzrle_started): each hot page and the spinner miss once, after it.
      expect(x.cacheMisses).toBe(HOT + 1);
    }
  });

  it("the migration thread pays XBZRLE's work: xbzrleHitPerPageNs a hit, xbzrleInsertPerPageNs a page put in the cache", () => {
    // A 100 Gbit link with max-bandwidth lifted: a page in full takes it
    // 0.33 us, less than the thread's 2.1 us encoding of it.
    const s = runMigration(customSource(hotWriter(8), config(M, 0.5e9)), {
      tracker: 'hap',
      p2m: '4k',
      migration: { policy: 'qemu', startNs: 1e6, downtimeLimitNs: 1000, xbzrleCacheBytes: 64 * 1024 * 1024, bandwidthBytesPerSec: 12.5e9, maxBandwidthBytesPerSec: Infinity },
    });
    const x = s.dataPath!.xbzrle!;
    // 4,096 pages in 16,384 direct-mapped slots: every miss finds its slot
    // free and is copied in; no page is zero (the writer fills them all).
    expect(x.threadNs).toBe(x.cacheHits * DEFAULT_COSTS.xbzrleHitPerPageNs + x.cacheMisses * DEFAULT_COSTS.xbzrleInsertPerPageNs);
    expect(x.threadNs).toBeGreaterThan(0);
    // It is the thread's time, within what the thread spent sending pages,
    // and sending waited for the thread, not the link.
    const t = s.dataPath!.migrationThread!;
    expect(t.busyNs).toBeGreaterThanOrEqual(x.threadNs + x.cacheHits * DEFAULT_COSTS.migrationPagePerPageNs);
    expect(t.cpuBoundNs).toBeGreaterThan(0);
  });

  it('a delta larger than the page overflows: the page goes in full', () => {
    // A whole page stored: its one run is 4096 bytes plus two lengths, over the page.
    expect(xbzrleEncodedBytes(4096, 1)).toBe(-1);
    const s = run(4096);
    const x = s.dataPath!.xbzrle!;
    expect(x.pages).toBe(0);
    expect(x.overflows).toBeGreaterThan(HOT * 2);
    expect(x.cacheMisses).toBe(HOT + 1);
    expect(s.lostPages).toBe(0);
  });

  it('the cache is direct-mapped by pfn; a miss does not evict a page used within the last two syncs', () => {
    const cache = new XbzrleCache(2 * 4096);
    expect(cache.insert(4, 1)).toBe(true);
    expect(cache.hit(4, 1)).toBe(true);
    // pfn 6 maps to the same slot as 4 (6 & 1 === 4 & 1); 4 was used at sync 1.
    expect(cache.hit(6, 2)).toBe(false);
    expect(cache.insert(6, 2)).toBe(false);
    // CACHED_PAGE_LIFETIME later, 4 is stale and gives way.
    expect(cache.insert(6, 3)).toBe(true);
    expect(cache.hit(4, 3)).toBe(false);
    expect(cache.hit(5, 3)).toBe(false);
  });
});
