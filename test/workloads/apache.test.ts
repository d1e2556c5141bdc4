import { describe, expect, it } from 'vitest';
import { faultReport, runWorkload } from './run-workload.js';

/**
 * What a per-process dirty-page capture of the guest would report: pages
 * written through user addresses, keyed by address space (the root loaded
 * on the vCPU) and vpn, per interval.
 */
function measure(intervalNs: number, durationNs: number, warmupNs: number) {
  const sets: Set<number>[] = [];
  const pfnSets: Set<number>[] = [];
  const firstSeen = new Map<number, number>(); // root -> time of its first access
  const newWorkerPages = new Map<number, Set<number>>();
  const r = runWorkload('apache', {
    durationNs,
    mmu: true,
    onAccess: (tNs, root, vpn, pfn, write) => {
      if (!firstSeen.has(root)) {
        firstSeen.set(root, tNs);
        if (tNs > warmupNs) newWorkerPages.set(root, new Set());
      }
      if (!write) return;
      const k = Math.floor(tNs / intervalNs);
      while (sets.length <= k) {
        sets.push(new Set());
        pfnSets.push(new Set());
      }
      pfnSets[k]!.add(pfn);
      if (vpn >= 0xc0000) return; // kernel addresses: not in a per-process capture
      sets[k]!.add(root * 0x100000 + vpn);
      // A new worker's start-up: what it wrote in its first 2 ms.
      const fresh = newWorkerPages.get(root);
      if (fresh && tNs - firstSeen.get(root)! < 2e6) fresh.add(vpn);
    },
  });
  const first = Math.ceil(warmupNs / intervalNs) + 1;
  let pages = 0;
  let overlap = 0;
  let pfnPages = 0;
  let n = 0;
  for (let k = first; k < sets.length - 1; k++) {
    const cur = sets[k]!;
    let both = 0;
    for (const x of cur) if (sets[k - 1]!.has(x)) both++;
    pages += cur.size;
    overlap += both / cur.size;
    pfnPages += pfnSets[k]!.size;
    n++;
  }
  const workerStarts = [...newWorkerPages.values()].map((s) => s.size);
  // Every fork after the first pool replaces a worker that exited; the pool is up 0.2 s into the run.
  const forks = r.stats['workersForked']! - Number(r.config.params['workers']);
  return {
    r,
    pagesPerSec: (pages / n) * (1e9 / intervalNs),
    pfnPagesPerSec: (pfnPages / n) * (1e9 / intervalNs),
    overlap: overlap / n,
    forksPerSec: forks / ((durationNs - 0.2e9) / 1e9),
    newWorkerPages: workerStarts.reduce((a, b) => a + b, 0) / workerStarts.length,
  };
}

describe('apache workload', () => {
  it('lands, with its defaults, in the reference ranges of real Apache prefork (dirty pages/s, interval overlap, forks/s, new-worker pages)', () => {
    // Reference: Apache 2.4 prefork, MaxConnectionsPerChild 1000, KeepAlive off, ab -c 8.
    const m = measure(100e6, 8e9, 1e9);
    expect(m.r.mmu!.faults, faultReport(m.r.mmu)).toBe(0);
    expect(m.pagesPerSec).toBeGreaterThanOrEqual(2400);
    expect(m.pagesPerSec).toBeLessThanOrEqual(6300);
    expect(m.overlap).toBeGreaterThanOrEqual(0.77);
    expect(m.overlap).toBeLessThanOrEqual(0.94);
    expect(m.forksPerSec).toBeGreaterThanOrEqual(3);
    expect(m.forksPerSec).toBeLessThanOrEqual(4);
    expect(m.newWorkerPages).toBeGreaterThanOrEqual(170);
    expect(m.newWorkerPages).toBeLessThanOrEqual(240);
    console.log(
      `apache defaults: ${m.pagesPerSec.toFixed(0)} user pages/s (${m.pfnPagesPerSec.toFixed(0)} frames/s with the kernel's), ` +
        `overlap ${(m.overlap * 100).toFixed(1)}%, ${m.forksPerSec.toFixed(2)} forks/s, ${m.newWorkerPages.toFixed(0)} pages per new worker`,
    );
  });

  it('keeps the overlap in range on 50 ms intervals too', () => {
    const m = measure(50e6, 6e9, 1e9);
    expect(m.overlap).toBeGreaterThanOrEqual(0.77);
    expect(m.overlap).toBeLessThanOrEqual(0.94);
  });

  it('replaces every worker that exits: forks follow exits, and the pool keeps its size', () => {
    const r = runWorkload('apache', { durationNs: 4e9, settings: { workers: 6, rate: 3000, maxRequestsPerChild: 300 } });
    const s = r.stats;
    expect(s['workersExited']).toBeGreaterThan(20);
    expect(s['workersForked']! - s['workersExited']!).toBeGreaterThanOrEqual(6);
    expect(s['workersForked']! - s['workersExited']!).toBeLessThanOrEqual(7);
    expect(s['cowCopies']).toBeGreaterThan(s['workersForked']! * 100);
    expect(s['requests']).toBeGreaterThan(3000 * 3.5);
  });

  it('runs without an MMU fault on every guest and paging mode, with several vCPUs', () => {
    for (const [guest, paging] of [
      ['hvm', 'pae'],
      ['pv', 'x86-64'],
      ['hvm', 'x86-64'],
    ] as const) {
      const r = runWorkload('apache', { durationNs: 1.5e9, guest, paging, vcpus: 4, memPages: 131_072, mmu: true, settings: { maxRequestsPerChild: 100 } });
      expect(r.mmu!.faults, `${guest} ${paging}\n${faultReport(r.mmu)}`).toBe(0);
      expect(r.stats['workersExited']).toBeGreaterThan(10);
    }
  });
});
