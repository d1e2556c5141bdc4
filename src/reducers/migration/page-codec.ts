import { PageClass, type PageClassValue } from './page-contents.js';

/**
 * The multifd compression methods (QEMU's multifd-compression parameter,
 * migration/multifd-zlib.c and multifd-zstd.c) as a page's compressed size
 * and a channel thread's time to compress it. Each channel keeps one stream
 * (deflateInit / ZSTD_initCStream at send setup) and compresses a packet's
 * normal pages one after another, flushing at the last (Z_SYNC_FLUSH,
 * ZSTD_e_flush); zero pages found by multifd's detection are not in it.
 *
 * Neither path falls back to raw pages: zlib_send_prepare and
 * zstd_send_prepare always send what the library wrote. On incompressible
 * data the libraries themselves store the input: deflate emits stored
 * blocks (5 bytes of header per block), zstd raw blocks (3 bytes per block
 * of up to 128 KiB, zstd_compress.c ZSTD_noCompressBlock). Measured here
 * with node 20's zlib and the zstd 1.5.4 CLI on 16 packets of 512 KiB of
 * /dev/urandom: zlib level 1 wrote 8,391,274 bytes for 8,388,608 (+1.3 bytes
 * a page), zstd level 1 8,388,944 (+21 bytes a packet). So "zstd on
 * incompressible pages sends full pages": the page's 4096 bytes, in a raw
 * block.
 *
 * Speed per core, compressing: the zstd README's benchmark (facebook/zstd
 * README.md "Benchmarks": lzbench on the Silesia corpus, one core of a Core
 * i7-9700K at 4.9 GHz): zstd 1.5.1 -1 530 MB/s, zlib 1.2.11 -1 95 MB/s. Other
 * levels scale those by the speed of that level over level 1 and the ratio
 * of that level over zlib level 1 as measured here on a mixed corpus (8 MiB
 * of JavaScript text and 8 MiB of x86-64 code), best of five interleaved runs
 * in 512 KiB packets: bench/codec-costs.mjs reproduces them. Pages of one
 * class compress at their own speed: on random data zstd gives up early
 * (27x its speed on text, measured) while deflate is slower than on text
 * (0.44x); on zeros zstd ran 20x, zlib 1.9x faster than on text.
 */
export type Compression = 'none' | 'zlib' | 'zstd';
export const COMPRESSIONS: readonly Compression[] = ['none', 'zlib', 'zstd'];

interface LevelFigures {
  /** Compression speed over level 1's (measured). */
  readonly speed: number;
  /** Compression ratio over zlib level 1's on the same data (measured). */
  readonly ratio: number;
}

/**
 * zlib levels 1 to 9 (index 0 unused: level 0 stores without compressing,
 * which QEMU allows and nobody runs), as measured (node 20's zlib, 16 MiB
 * mixed corpus, 512 KiB packets, best of 5): level 1 wrote a ratio of 2.883
 * at 31.5 MB/s on this shared machine; the table keeps each level's speed
 * over level 1's and ratio over 2.883, rounded. Levels 2 and 3 (and 6 and
 * 7) measured alike within the machine's noise.
 */
const ZLIB_LEVELS: readonly LevelFigures[] = [
  { speed: 1, ratio: 1 },
  { speed: 1, ratio: 1 },
  { speed: 0.74, ratio: 1.03 },
  { speed: 0.77, ratio: 1.05 },
  { speed: 0.51, ratio: 1.1 },
  { speed: 0.53, ratio: 1.13 },
  { speed: 0.43, ratio: 1.14 },
  { speed: 0.43, ratio: 1.14 },
  { speed: 0.3, ratio: 1.14 },
  { speed: 0.27, ratio: 1.14 },
];

/**
 * zstd levels 1 to 9 as measured (zstd 1.5.4 CLI, `zstd -bN -B524288`, the
 * same corpus and runs): level 1 wrote a ratio of 2.954 (1.02x zlib level
 * 1's; the README's Silesia figures give 1.05x) at 106.8 MB/s. Levels
 * above 9 (QEMU takes up to 20) were not measured, so not offered.
 */
const ZSTD_LEVELS: readonly LevelFigures[] = [
  { speed: 1, ratio: 1 },
  { speed: 1, ratio: 1.02 },
  { speed: 0.93, ratio: 1.07 },
  { speed: 0.71, ratio: 1.13 },
  { speed: 0.62, ratio: 1.13 },
  { speed: 0.41, ratio: 1.19 },
  { speed: 0.32, ratio: 1.21 },
  { speed: 0.26, ratio: 1.22 },
  { speed: 0.24, ratio: 1.23 },
  { speed: 0.25, ratio: 1.23 },
];

export const ZLIB_MAX_LEVEL = ZLIB_LEVELS.length - 1;
export const ZSTD_MAX_LEVEL = ZSTD_LEVELS.length - 1;

/** The zstd README's level-1 speeds, MB/s of input per core. */
const ZSTD_L1_MB_PER_SEC = 530;
const ZLIB_L1_MB_PER_SEC = 95;

const PAGE_BYTES = 4096;

/** A codec at one level: a page's compressed bytes and a core's time to compress it. */
export interface PageCodec {
  readonly compression: Compression;
  readonly level: number;
  /** Bytes the page's data takes in the packet (its 8-byte offset apart). */
  compressedBytes(cls: PageClassValue, mixRatio: number): number;
  /** A channel thread's time compressing the page. */
  compressNs(cls: PageClassValue): number;
  /** Bytes per packet beyond its pages' (the flush's framing). */
  readonly packetFramingBytes: number;
}

class Codec implements PageCodec {
  private readonly nsByClass: readonly number[];
  private readonly levelRatio: number;

  constructor(
    readonly compression: 'zlib' | 'zstd',
    readonly level: number,
    fig: LevelFigures,
    l1MbPerSec: number,
    classSpeed: readonly number[],
    private readonly zeroBytes: number,
    private readonly incompressibleBytes: number,
    readonly packetFramingBytes: number,
  ) {
    const mbPerSec = l1MbPerSec * fig.speed;
    // 4096 bytes at mbPerSec MB/s, in ns, per class.
    this.nsByClass = classSpeed.map((f) => Math.round((PAGE_BYTES * 1e3) / (mbPerSec * f)));
    this.levelRatio = fig.ratio;
  }

  compressedBytes(cls: PageClassValue, mixRatio: number): number {
    if (cls === PageClass.zero) return this.zeroBytes;
    if (cls === PageClass.incompressible) return this.incompressibleBytes;
    // A compressible page never grows past what storing it costs.
    return Math.min(this.incompressibleBytes, Math.ceil(PAGE_BYTES / (mixRatio * this.levelRatio)));
  }

  compressNs(cls: PageClassValue): number {
    return this.nsByClass[cls]!;
  }
}

/**
 * The codec QEMU's multifd-compression and its level name; undefined for
 * `none` (multifd-nocomp.c: the pages go as they are).
 */
export function pageCodec(compression: Compression, level: number): PageCodec | undefined {
  if (compression === 'none') return undefined;
  if (compression === 'zlib') {
    // Measured: a page of zeros deflates to 18 bytes in a packet's stream; random data costs 1.3 bytes a page more than itself; Z_SYNC_FLUSH appends an empty stored block (5 bytes).
    return new Codec('zlib', level, ZLIB_LEVELS[level]!, ZLIB_L1_MB_PER_SEC, [1.9, 1, 0.44], 18, PAGE_BYTES + 1, 5);
  }
  // Measured: 34 bytes for a whole packet of zeros (under one a page); raw blocks cost 21 bytes a packet.
  return new Codec('zstd', level, ZSTD_LEVELS[level]!, ZSTD_L1_MB_PER_SEC, [20, 1, 27], 1, PAGE_BYTES, 21);
}

/** What is wrong with a level for a codec, or undefined. */
export function codecLevelProblem(compression: 'zlib' | 'zstd', level: number): string | undefined {
  const max = compression === 'zlib' ? ZLIB_MAX_LEVEL : ZSTD_MAX_LEVEL;
  if (!Number.isInteger(level) || level < 1 || level > max) {
    return `must be a whole number from 1 to ${max} (migsim has measured ${compression} levels 1 to ${max}; QEMU's multifd-${compression}-level default is 1)`;
  }
  return undefined;
}
