/**
 * What a page holds, as far as the migration's data path cares: zeros (QEMU
 * sends a flag: migration/ram.c save_zero_page, multifd-zero-page.c), data
 * a compressor shrinks by a ratio (text, heaps, page tables), or data it
 * cannot shrink (media, encrypted or random bytes). Nothing per page is
 * stored: a page's class is a seeded hash of (pfn, version) drawn against
 * the run's mix, so a 1 TiB guest costs no memory for it, the same page at
 * the same version always has the same class (replays agree), and each
 * store redraws it. The mix is therefore the share of pages *sent* in each
 * class, whichever pages the guest writes, not a fixed map of memory. A
 * page never written since boot (version 0) is zero, always: the guest
 * kernel hands out zeroed memory and nothing has touched it.
 */
export interface ContentMix {
  /** Share of written pages that hold only zeros when sent. */
  readonly zero: number;
  /** Share that compresses; the rest is incompressible. */
  readonly compressible: number;
  /**
   * A compressible page's ratio (uncompressed / compressed bytes) under
   * zlib level 1, the reference codec (page-codec.ts scales it to other
   * codecs and levels from measurements).
   */
  readonly ratio: number;
  /** Where the mix comes from and why, in words (the workload's reasoning, a capture's default, the run option). */
  readonly why: string;
}

/** A page's class. */
export const PageClass = { zero: 0, compressible: 1, incompressible: 2 } as const;
export type PageClassValue = (typeof PageClass)[keyof typeof PageClass];

/**
 * The mix of an imported capture, which records where pages were written
 * but not what they held (rtdirty, lackey): a stated default, not a
 * measurement. A tenth zero (freed or freshly allocated pages the guest
 * cleared), three fifths compressible at 2.5 (heaps, text and kernel data:
 * zlib level 1 shrank x86 code 2.15x and JavaScript text 4.36x here, see
 * page-codec.ts), the rest incompressible (media, compressed or encrypted
 * data). Give `--page-contents` when the workload behind the capture is
 * known.
 */
export const CAPTURE_DEFAULT_MIX: ContentMix = {
  zero: 0.1,
  compressible: 0.6,
  ratio: 2.5,
  why: 'default for a capture without contents: a tenth zero, three fifths compressible at 2.5 (heaps, text, kernel data), the rest incompressible',
};

/**
 * migsim's rule before page contents existed: every written page goes in
 * full and none is zero. Policies built without a mix (a fleet's VMs) keep it.
 */
export const WRITTEN_PAGES_OPAQUE: ContentMix = {
  zero: 0,
  compressible: 0,
  ratio: 1,
  why: 'every written page incompressible and none zero (no contents stated)',
};

/** What is wrong with a mix, or undefined. */
export function contentMixProblem(m: Pick<ContentMix, 'zero' | 'compressible' | 'ratio'>): string | undefined {
  if (!(m.zero >= 0 && m.zero <= 1)) return `zero must be a fraction from 0 to 1, got ${m.zero}`;
  if (!(m.compressible >= 0 && m.compressible <= 1)) return `compressible must be a fraction from 0 to 1, got ${m.compressible}`;
  if (m.zero + m.compressible > 1 + 1e-9) return `zero + compressible is ${Math.round((m.zero + m.compressible) * 1e6) / 1e6}, more than every page`;
  if (!(m.ratio >= 1 && m.ratio <= 4096)) return `ratio must be from 1 (no gain) to 4096, got ${m.ratio}`;
  return undefined;
}

/**
 * `zero=0.1,compressible=0.6,ratio=2.5` (incompressible: the rest; or give
 * `incompressible=` and the three must add up to 1). Throws an Error saying
 * what is wrong.
 */
export function parseContentMix(s: string): ContentMix {
  const v: Record<string, number> = {};
  for (const part of s.split(',')) {
    const m = /^\s*(zero|compressible|incompressible|ratio)\s*=\s*([0-9.eE+-]+)\s*$/.exec(part);
    if (!m) throw new Error(`'${part}' is not key=value with key zero, compressible, incompressible or ratio (e.g. zero=0.1,compressible=0.6,ratio=2.5)`);
    const n = Number(m[2]);
    if (!Number.isFinite(n)) throw new Error(`'${part}': ${m[2]} is not a number`);
    v[m[1]!] = n;
  }
  const zero = v['zero'] ?? 0;
  let compressible = v['compressible'];
  if (v['incompressible'] !== undefined) {
    const rest = 1 - zero - v['incompressible'];
    if (compressible === undefined) compressible = rest;
    else if (Math.abs(rest - compressible) > 1e-9) throw new Error(`zero + compressible + incompressible must add up to 1, got ${zero + compressible + v['incompressible']}`);
  }
  const mix = { zero, compressible: compressible ?? 0, ratio: v['ratio'] ?? (compressible ? 2.5 : 1), why: `--page-contents ${s.trim()}` };
  const bad = contentMixProblem(mix);
  if (bad) throw new Error(bad);
  return mix;
}

/** The mix in a few words: "zero 10%, compressible 60% at 2.5x, incompressible 30%". */
export function formatContentMix(m: ContentMix): string {
  const pct = (x: number) => `${Math.round(x * 1000) / 10}%`;
  return `zero ${pct(m.zero)}, compressible ${pct(m.compressible)} at ${m.ratio}x, incompressible ${pct(Math.max(0, 1 - m.zero - m.compressible))}`;
}

/** fmix32 of MurmurHash3: a full-avalanche 32-bit mixer (integer ops only, the same on every platform). */
function fmix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

const TWO_32 = 4294967296;

/** The classes of a run's pages: its mix and seed, no per-page state. */
export class PageContents {
  private readonly zeroBelow: number;
  private readonly compressibleBelow: number;
  private readonly salt: number;

  constructor(
    readonly mix: ContentMix,
    seed: number,
  ) {
    this.zeroBelow = Math.floor(mix.zero * TWO_32);
    this.compressibleBelow = Math.min(TWO_32, Math.floor((mix.zero + mix.compressible) * TWO_32));
    // Its own stream of the run's seed, apart from the workload's and the p2m's.
    this.salt = fmix32((seed ^ 0x636f6e74) >>> 0);
  }

  /** The class of `pfn` at `version` (its store count: 0 = never written). */
  classOf(pfn: number, version: number): PageClassValue {
    if (version === 0) return PageClass.zero;
    const h = fmix32((this.salt ^ fmix32((pfn + Math.imul(version, 0x9e3779b1)) >>> 0)) >>> 0);
    if (h < this.zeroBelow) return PageClass.zero;
    return h < this.compressibleBelow ? PageClass.compressible : PageClass.incompressible;
  }

  isZero(pfn: number, version: number): boolean {
    return this.classOf(pfn, version) === PageClass.zero;
  }
}
