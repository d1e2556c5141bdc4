import { GuestResourceError } from './guest-resource-error.js';
import { deriveStream } from '../random/derive-stream.js';
import { GuestKernel } from './guest-kernel.js';
import { FixedRatePacer } from './fixed-rate-pacer.js';
import { TimerTicks, VcpuActivity } from './guest-cpu.js';
import type { ProgramImage } from './guest-program.js';
import { LD_SO, LIBC } from './guest-program.js';
import type { WorkloadDefinition } from './workload.js';

const MUNCHER_IMAGE: ProgramImage = {
  path: '/usr/local/bin/mmuncher',
  textPages: 4,
  dataPages: 1,
  bssPages: 1,
  heapPages: 8,
  stackPages: 8,
  libraries: [LD_SO, LIBC],
};

/** How many writes ahead a random page is drawn and its PTE loaded. */
const PAGES_AHEAD = 16;

/** Frames kept free for page tables the kernel may still need. */
const TABLE_RESERVE_PAGES = 64;

/**
 * MMuncher (Clark et al., NSDI 2005, section 6): a process that writes its
 * working set at a fixed rate, the next page in turn (sequential, wrapping)
 * or a random one, one thread per vCPU taking writes in turn.
 *
 * The guest starts with its memory already written, except a fraction
 * `zero` that was never written (zero pages, which migration sends as a
 * header only). The trace states that history at t = 0, before any
 * munching, in the events a real guest would have produced: the loader's
 * phys_writes of the kernel image, the kernel's page tables, the muncher's
 * working set mapped and zero-filled by the kernel (MAP_POPULATE: a write
 * of 4096 bytes to each page and its PTE), and the rest of memory filled as
 * page cache by disk DMA (phys_write). Frames that none of these touch are
 * the zero pages: `zero` x memory of them, rounded, plus the few the kernel
 * holds unwritten (its zero page, tables it has not filled yet) and up to
 * TABLE_RESERVE_PAGES kept free for page tables. The stats report the exact
 * count (zeroPages). The prologue takes no guest time.
 */
export const muncher: WorkloadDefinition = {
  name: 'muncher',
  description: "Clark et al.'s MMuncher: writes its working set at a fixed page rate, sequentially or at random",
  usesMmu: true,
  params: [
    { name: 'rate', kind: 'rate', default: 10_000, description: 'pages written per second, all vCPUs together (10,000 pages/s = 39 MiB/s)' },
    {
      name: 'pattern',
      kind: 'enum',
      default: 'sequential',
      choices: ['sequential', 'random'],
      description: 'sequential: the next page of the working set, wrapping; random: a uniformly random page of it',
    },
    {
      name: 'wss',
      kind: 'size',
      default: 0,
      description: 'working-set size in bytes (0: all memory the kernel can give, less the zero fraction)',
    },
    {
      name: 'zero',
      kind: 'fraction',
      default: 0,
      description: 'fraction of guest memory never written since boot (zero pages) when the run starts',
    },
    { name: 'writeBytes', kind: 'int', max: 4096, default: 4096, description: 'bytes stored per page write (4096: the whole page)' },
  ],
  // A memory dirtier stores its own fill into each page, and the point of
  // one is that nothing shortcuts the copy: incompressible. The zero pages
  // are the `zero` fraction, never written (zero whatever the mix).
  pageContents: () => ({ zero: 0, compressible: 0, ratio: 1, why: "muncher: a dirtier's fill is incompressible; its zero pages are the never-written `zero` fraction" }),
  generate(config, out) {
    const p = config.params;
    const rate = Math.round(Number(p['rate']));
    const random = p['pattern'] === 'random';
    const writeBytes = Math.max(1, Math.min(4096, Number(p['writeBytes'])));
    const kernel = new GuestKernel(config, out);
    const vcpus = config.vcpus;

    // The prologue, all at t = 0.
    kernel.loadImage(0, 0);
    kernel.boot(0, 0);
    const pid = kernel.createProcess(0, 0);
    kernel.switchTo(0, pid, 0);
    kernel.exec(pid, 0, MUNCHER_IMAGE, 0);
    for (let v = 1; v < vcpus; v++) kernel.switchTo(v, pid, 0);

    const zeroTarget = Math.round(Number(p['zero']) * config.memPages);
    const tablesNeeded = (n: number) => Math.ceil(n / 512) + 4;
    const free = kernel.freePages - TABLE_RESERVE_PAGES;
    const wantWss = Math.floor(Number(p['wss']) / 4096);
    // The tables the working set needs: a given one's own, not all memory's
    // (which left no room for a small working set in a large, mostly zero guest).
    const maxWss = Math.max(0, free - zeroTarget - tablesNeeded(wantWss > 0 ? Math.min(wantWss, free) : free));
    const wssPages = wantWss > 0 ? Math.min(wantWss, maxWss) : maxWss;
    if (wssPages < 1) {
      throw new GuestResourceError(`muncher: no memory left for a working set (${kernel.freePages} free pages, zero fraction ${p['zero']}); give the guest more with --mem or lower zero`, true);
    }
    const base = kernel.mapPopulated(pid, 0, wssPages, 0);
    const cachePages = Math.max(0, kernel.freePages - TABLE_RESERVE_PAGES - zeroTarget);
    if (cachePages > 0) {
      const file = kernel.openFile('/var/cache/previous-life', cachePages);
      for (let i = 0; i < cachePages; i++) kernel.cacheFilePage(file, i, 0, 0);
    }

    // The munching.
    const activity = new VcpuActivity(out, vcpus, 50_000);
    const ticks = new TimerTicks(kernel, activity, 250, 0);
    const rng = deriveStream(config.seed, 'muncher/pages');
    const writeNs = 250; // a 4 KiB memset
    let written = 0;
    if (rate > 0) {
      const pacer = new FixedRatePacer(rate);
      let vcpu = 0;
      let seq = 0;
      // Random pages are drawn PAGES_AHEAD writes before they are written,
      // and their PTEs loaded then (GuestKernel.touchAhead): over a large
      // working set each write's PTE misses the cache, and the misses
      // overlap. The draws and their order are as without it (the stream
      // is the muncher's alone); a few are drawn past the end, unused.
      const ahead = new Int32Array(PAGES_AHEAD);
      if (random) for (let k = 0; k < PAGES_AHEAD; k++) kernel.touchAhead(vcpu, base + (ahead[k] = rng.belowLarge(wssPages)));
      let next = 0;
      while (pacer.nowNs <= config.durationNs) {
        const tNs = pacer.nowNs;
        ticks.until(tNs);
        let page: number;
        if (random) {
          page = ahead[next]!;
          const later = rng.belowLarge(wssPages);
          ahead[next] = later;
          if (++next === PAGES_AHEAD) next = 0;
          kernel.touchAhead(vcpu, base + later);
        } else {
          page = seq;
          if (++seq === wssPages) seq = 0;
        }
        kernel.touch(pid, vcpu, base + page, true, tNs, writeBytes);
        activity.busyUntil(vcpu, tNs + writeNs);
        written++;
        if (++vcpu === vcpus) vcpu = 0;
        pacer.advance();
      }
    }
    ticks.until(config.durationNs);
    activity.finish(config.durationNs);
    return { ...kernel.statsEntries(), wssPages, zeroPages: kernel.neverWrittenPages(), pageCachePages: cachePages, pagesWritten: written };
  },
};
