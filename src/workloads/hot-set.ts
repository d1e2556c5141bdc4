import { deriveStream } from '../random/derive-stream.js';
import { FixedRatePacer } from './fixed-rate-pacer.js';
import type { WorkloadDefinition } from './workload.js';
import { ZipfTable } from './zipf-table.js';

/**
 * A guest that stores to pages at a fixed rate, `hotFraction` of them inside
 * a contiguous hot set (a heap, a buffer pool) and the rest spread over all
 * of memory, uniformly or Zipf-distributed. It writes physical frames
 * directly (phys_write), so it needs no page tables: the simplest dirtying
 * pattern, and the one the closed-form pre-copy model assumes.
 *
 * Writes are paced exactly (FixedRatePacer): the i-th write is at
 * floor(i * 1e9 / rate) ns, issued by the vCPUs in turn, so each vCPU
 * writes at rate / vcpus.
 */
export const hotSet: WorkloadDefinition = {
  name: 'hot-set',
  description: 'writes pages at a fixed rate, mostly inside a hot set (physical writes, no MMU)',
  usesMmu: false,
  params: [
    { name: 'rate', kind: 'rate', default: 1_000_000, description: 'page writes per second, all vCPUs together' },
    { name: 'hotPages', kind: 'int', default: 1024, description: 'pages in the hot set' },
    { name: 'hotFraction', kind: 'fraction', default: 0.9, description: 'share of writes that land in the hot set' },
    {
      name: 'distribution',
      kind: 'enum',
      default: 'uniform',
      choices: ['uniform', 'zipf'],
      description: 'how the other writes spread over memory (zipf: s = 1, ranks scattered over memory)',
    },
    { name: 'bytes', kind: 'int', max: 4096, default: 8, description: 'size of each store in bytes (at most a page)' },
  ],
  // A pattern of where writes land, not of what they store: every written
  // page opaque, none zero (the conservative case for compression, and
  // migsim's rule before page contents existed).
  pageContents: () => ({ zero: 0, compressible: 0, ratio: 1, why: 'hot-set: a pattern of where writes land, not what they store: every written page incompressible, none zero' }),
  generate(config, out) {
    const p = config.params;
    const rate = Math.round(Number(p['rate']));
    const memPages = config.memPages;
    const hotPages = Math.min(Number(p['hotPages']), memPages);
    const hotFraction = Number(p['hotFraction']);
    const bytes = Number(p['bytes']);
    const vcpus = config.vcpus;
    if (rate <= 0) return;

    const place = deriveStream(config.seed, 'hot-set/place');
    const hotBase = place.belowLarge(memPages - hotPages + 1);
    const zipf = p['distribution'] === 'zipf' ? new ZipfTable(memPages) : undefined;
    // Zipf ranks go through an affine bijection mod memPages so the popular
    // pages are scattered, not packed at the bottom of memory.
    const stride = coprimeStride(memPages, place.nextU32());
    const offset = place.belowLarge(memPages);

    const rng = deriveStream(config.seed, 'hot-set/writes');
    const hotThreshold = hotFraction * 4294967296;
    const pacer = new FixedRatePacer(rate);
    let vcpu = 0;
    while (pacer.nowNs <= config.durationNs) {
      let pfn: number;
      if (rng.nextU32() < hotThreshold) pfn = hotBase + rng.below(hotPages);
      else if (zipf) pfn = (zipf.rank(rng.nextUnit()) * stride + offset) % memPages;
      else pfn = rng.belowLarge(memPages);
      out.physWrite(pacer.nowNs, vcpu, pfn, bytes);
      if (++vcpu === vcpus) vcpu = 0;
      pacer.advance();
    }
  },
};

/** An odd stride coprime with n, so k -> k * stride mod n is a bijection. */
function coprimeStride(n: number, r: number): number {
  let s = (r % n) | 1;
  while (gcd(s, n) !== 1) s += 2;
  return s;
}

function gcd(a: number, b: number): number {
  while (b) [a, b] = [b, a % b];
  return a;
}
