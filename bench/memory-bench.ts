import { type BenchRow } from './bench-util.js';
import { measureGuestMemory } from './guest-memory.js';

const GIB = 1024 ** 3;
/** Issue 16's target: at most 16 bytes of state per guest page. */
const TARGET_BYTES_PER_PAGE = 16;

/**
 * Bytes per guest page: a 2 s muncher migrated under pml with Xen's policy,
 * in a process of its own per guest size (bench/guest-memory.ts), its peak
 * RSS over the guest's pages. Every page of the guest is written (a 64 MiB
 * working set mapped by the muncher, the rest page cache its disk filled),
 * so every per-page array is touched, while page tables stay small: the
 * figure is the per-page state the run keeps, which is what the target
 * bounds (page tables, splits and shadows grow with what the guest maps).
 * `marginal` is the growth from the size before over the pages added, which
 * leaves out what any run holds (the program, the JIT, the batches).
 * BENCH_MEM_GIB=1,8,64 (default) picks the sizes.
 */
export function memoryBench(): BenchRow[] {
  const sizes = (process.env['BENCH_MEM_GIB'] ?? '1,8,64').split(',').map(Number);
  const rows: BenchRow[] = [];
  let before: { pages: number; rss: number } | undefined;
  for (const gib of sizes) {
    const r = measureGuestMemory({ memBytes: gib * GIB, tracker: 'pml', policy: 'xen', wssBytes: 64 * 1024 ** 2, zero: 0 });
    const perPage = r.maxRssBytes / r.guestPages;
    rows.push({ scenario: 'memory', metric: `${gib} GiB guest: peak RSS (${r.seconds.toFixed(1)} s, ${r.outcome}${r.rssSource === 'VmHWM' ? '' : ', ru_maxrss: an upper bound'})`, value: `${(r.maxRssBytes / 1024 ** 2).toFixed(0)} MiB` });
    rows.push({ scenario: 'memory', metric: `${gib} GiB guest: bytes per guest page (peak RSS / pages)`, value: perPage.toFixed(1) });
    if (before) {
      const marginal = (r.maxRssBytes - before.rss) / (r.guestPages - before.pages);
      rows.push({ scenario: 'memory', metric: `${gib} GiB guest: bytes per page added since the size before`, value: marginal.toFixed(1), target: `<= ${TARGET_BYTES_PER_PAGE}`, ok: marginal <= TARGET_BYTES_PER_PAGE });
    }
    before = { pages: r.guestPages, rss: r.maxRssBytes };
  }
  return rows;
}
