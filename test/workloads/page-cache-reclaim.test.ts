// Checks page-cache reclaim (src/workloads/page-cache.ts, after Linux's
// mm/vmscan.c shrink_page_list): an allocation that finds no free frame
// frees SWAP_CLUSTER_MAX (32) file pages from the oldest end of the file LRU,
// giving pages used since the last scan a second chance, so a guest whose
// files outgrow its memory (apache's access log over a long run) keeps
// running instead of running out of memory.
import { describe, expect, it } from 'vitest';
import { GuestBatchBuilder } from '../../src/events/guest-batch-builder.js';
import { Mmu } from '../../src/reducers/mmu.js';
import { GuestKernel } from '../../src/workloads/guest-kernel.js';
import { SWAP_CLUSTER_MAX } from '../../src/workloads/page-cache.js';

const MEM_PAGES = 8192;

/** A booted 32 MiB HVM kernel whose events the hardware MMU walks (so a fault would show). */
function booted() {
  const mmu = new Mmu({ guest: 'hvm', paging: 'x86-64', memPages: MEM_PAGES, vcpus: 1, seed: 3 });
  const out = new GuestBatchBuilder((b) => mmu.apply(b), 4096);
  const kernel = new GuestKernel({ seed: 3, memPages: MEM_PAGES, vcpus: 1, guest: 'hvm', paging: 'x86-64', imagePages: 256, modulePages: 64 }, out);
  kernel.boot(0, 0);
  return { kernel, out, mmu };
}

describe('page-cache reclaim', () => {
  it('a file three times the size of memory is read to its end: the oldest pages go, 32 at a time', () => {
    const { kernel, out, mmu } = booted();
    const file = kernel.openFile('/data/big', 3 * MEM_PAGES);
    for (let i = 0; i < 3 * MEM_PAGES; i++) kernel.cacheFilePage(file, i, 0, 0);
    out.flush();
    const stats = kernel.statsEntries();
    // Every page read was a disk read into a frame; the frames came back by reclaim alone.
    expect(stats['diskReads']).toBe(3 * MEM_PAGES);
    const reclaimed = stats['pagesReclaimed']!;
    expect(reclaimed).toBeGreaterThanOrEqual(2 * MEM_PAGES);
    expect(reclaimed % SWAP_CLUSTER_MAX).toBe(0);
    expect(kernel.cachedPages(file)).toBe(3 * MEM_PAGES - reclaimed);
    // The newest page is still cached (no disk read), the oldest is not.
    kernel.cacheFilePage(file, 3 * MEM_PAGES - 1, 0, 0);
    expect(kernel.statsEntries()['diskReads']).toBe(3 * MEM_PAGES);
    kernel.cacheFilePage(file, 0, 0, 0);
    expect(kernel.statsEntries()['diskReads']).toBe(3 * MEM_PAGES + 1);
    out.flush();
    expect(mmu.stats().faults).toBe(0);
  });

  it('a page read again since the last scan survives the next one, while the older pages around it go', () => {
    const { kernel } = booted();
    const file = kernel.openFile('/data/big', 2 * MEM_PAGES);
    let next = 0;
    while (kernel.freePages > 0) kernel.cacheFilePage(file, next++, 0, 0);
    const firstPfn = kernel.cacheFilePage(file, 0, 0, 0); // a hit: referenced
    const reads = kernel.statsEntries()['diskReads']!;
    kernel.cacheFilePage(file, next++, 0, 0); // no frame free: one reclaim pass
    expect(kernel.statsEntries()['pagesReclaimed']).toBe(SWAP_CLUSTER_MAX);
    expect(kernel.statsEntries()['diskReads']).toBe(reads + 1);
    // Page 0 kept its frame (no disk read); pages 1..32 were reclaimed, 33 was not.
    expect(kernel.cacheFilePage(file, 0, 0, 0)).toBe(firstPfn);
    expect(kernel.statsEntries()['diskReads']).toBe(reads + 1);
    kernel.cacheFilePage(file, SWAP_CLUSTER_MAX + 1, 0, 0);
    expect(kernel.statsEntries()['diskReads']).toBe(reads + 1);
    kernel.cacheFilePage(file, SWAP_CLUSTER_MAX, 0, 0);
    expect(kernel.statsEntries()['diskReads']).toBe(reads + 2);
  });

  it('a guest with nothing to reclaim still runs out of memory, with the error that says so', () => {
    const { kernel } = booted();
    expect(() => kernel.allocKernelPages(MEM_PAGES)).toThrow(/guest out of direct-mapped \(lowmem\) memory/);
    expect(kernel.statsEntries()['pagesReclaimed']).toBeUndefined();
  });
});
