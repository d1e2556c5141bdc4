// Page contents (src/reducers/migration/page-contents.ts): a page's class
// (zero, compressible, incompressible) is a seeded hash of (pfn, version)
// drawn against the run's mix, a page never written is zero, and only
// QEMU's stream cares (Xen's sends every page in full).
import { describe, expect, it } from 'vitest';
import { ZERO_PAGE_FILL_BYTES } from '../../src/reducers/migration/qemu-data-path.js';
import { contentMixOf } from '../../src/api/content-mix-of.js';
import { runMigration } from '../../src/api/run-migration.js';
import { workloadSource } from '../../src/api/workload-source.js';
import { DEFAULT_COSTS } from '../../src/model/cost-model.js';
import { PageClass, PageContents, parseContentMix } from '../../src/reducers/migration/page-contents.js';
import type { WorkloadDefinition } from '../../src/workloads/workload.js';
import { config, customSource } from '../helpers/custom-source.js';

const HEADER = DEFAULT_COSTS.pageHeaderBytes;

describe('page contents', () => {
  it('a page never written since boot is zero under any mix', () => {
    const c = new PageContents({ zero: 0, compressible: 0, ratio: 1, why: 'test' }, 7);
    for (let pfn = 0; pfn < 1000; pfn++) expect(c.classOf(pfn, 0)).toBe(PageClass.zero);
    for (let pfn = 0; pfn < 1000; pfn++) expect(c.classOf(pfn, 1)).toBe(PageClass.incompressible);
  });

  it("written pages fall in each class as often as the mix says (200,000 draws, within 1%)", () => {
    const c = new PageContents({ zero: 0.1, compressible: 0.6, ratio: 2.5, why: 'test' }, 1);
    const n = [0, 0, 0];
    for (let pfn = 0; pfn < 20_000; pfn++) for (let v = 1; v <= 10; v++) n[c.classOf(pfn, v)]!++;
    expect(n[PageClass.zero]! / 200_000).toBeCloseTo(0.1, 2);
    expect(n[PageClass.compressible]! / 200_000).toBeCloseTo(0.6, 2);
    expect(n[PageClass.incompressible]! / 200_000).toBeCloseTo(0.3, 2);
  });

  it('the same seed, page and version give the same class; another seed draws afresh', () => {
    const mix = { zero: 0.5, compressible: 0, ratio: 1, why: 'test' };
    const a = new PageContents(mix, 1);
    const b = new PageContents(mix, 1);
    const other = new PageContents(mix, 2);
    let differ = 0;
    for (let pfn = 0; pfn < 1000; pfn++) {
      expect(a.classOf(pfn, 3)).toBe(b.classOf(pfn, 3));
      if (a.classOf(pfn, 3) !== other.classOf(pfn, 3)) differ++;
    }
    expect(differ).toBeGreaterThan(300);
  });

  it('--page-contents takes fractions and a ratio, the rest incompressible, and refuses a mix over every page', () => {
    expect(parseContentMix('zero=0.1,compressible=0.6,ratio=3')).toMatchObject({ zero: 0.1, compressible: 0.6, ratio: 3 });
    expect(parseContentMix('zero=0.2,incompressible=0.3')).toMatchObject({ zero: 0.2, compressible: 0.5 });
    expect(() => parseContentMix('zero=0.7,compressible=0.6')).toThrow(/more than every page/);
    expect(() => parseContentMix('zero=0.1,compressible=0.2,incompressible=0.3')).toThrow(/add up to 1/);
    expect(() => parseContentMix('ratio=0.5')).toThrow(/ratio/);
    expect(() => parseContentMix('zeros=0.1')).toThrow(/key=value/);
  });

  it("built-in workloads state their mix and a capture gets the stated default; another guest keeps migsim's old rule", () => {
    const h = workloadSource('apache', { seed: 1, durationNs: 1e8, memBytes: 64 << 20, vcpus: 1, guest: 'hvm', paging: 'x86-64', settings: {} }).header;
    expect(contentMixOf(h).compressible).toBeGreaterThan(0);
    expect(contentMixOf({ ...h, workload: { ...h.workload, name: 'import:rtdirty' } }).why).toMatch(/capture/);
    expect(contentMixOf({ ...h, workload: { ...h.workload, name: 'mine' } })).toMatchObject({ zero: 0, compressible: 0 });
  });
});

/** Writes the first WRITTEN pages once; the rest of memory is never written. */
const M = 4096;
const WRITTEN = 1000;
const writeSome: WorkloadDefinition = {
  name: 'test-write-some',
  description: 'writes some pages once, then idles',
  usesMmu: false,
  params: [],
  generate(c, out) {
    for (let p = 0; p < WRITTEN; p++) out.physWrite(1000 * (p + 1), 0, p, 8);
    out.idle(c.durationNs, 0);
  },
};

describe('written pages that are zero on the wire', () => {
  const allZero = { zero: 1, compressible: 0, ratio: 1, why: 'test' };

  it('qemu sends a written page the contents make zero as its header and a byte of fill (ram.c save_zero_page), and loses none', () => {
    const s = runMigration(customSource(writeSome, config(M, 2e9)), { tracker: 'hap', p2m: '4k', migration: { policy: 'qemu', startNs: 1e9, pageContents: allZero } });
    expect(s.outcome).toBe('completed');
    expect(s.lostPages).toBe(0);
    expect(s.rounds[0]!.zeroPages).toBe(M);
    expect(s.rounds[0]!.bytesSent).toBe(M * (HEADER + ZERO_PAGE_FILL_BYTES));
    expect(s.dataPath!.pageContents.zero).toBe(1);
  });

  it("xen's stream sends the same pages in full, whatever they hold, and reports no contents", () => {
    const s = runMigration(customSource(writeSome, config(M, 2e9)), { tracker: 'hap', p2m: '4k', migration: { policy: 'xen', startNs: 1e9, pageContents: allZero } });
    expect(s.zeroPagesSent).toBe(0);
    expect(s.rounds[0]!.bytesSent).toBe(M * (4096 + HEADER));
    expect(s.dataPath).toBeUndefined();
  });
});
