import { type Command, InvalidArgumentError } from 'commander';
import { type MigrationOptions, ZERO_PAGE_DETECTIONS, type ZeroPageDetection } from '../../reducers/migration/migration-options.js';
import { codecLevelProblem, type Compression, COMPRESSIONS, ZLIB_MAX_LEVEL, ZSTD_MAX_LEVEL } from '../../reducers/migration/page-codec.js';
import { parseContentMix } from '../../reducers/migration/page-contents.js';
import { multifdChannelsOf } from '../../reducers/migration/qemu-data-path.js';
import { xbzrleCacheSizeProblem } from '../../reducers/migration/xbzrle-cache.js';
import { choiceOption, positiveIntOption, sizeOption } from '../parse-options.js';
import { UsageError } from '../usage-error.js';

/**
 * QEMU's data-path knobs on `run` (and so on `compare`, `report --compare`
 * and a sweep's grid): page contents, multifd, zero-page detection and
 * XBZRLE. None has a commander default, so a run that gives none has the
 * same parameters (and a sweep the same run ids) as before they existed;
 * the defaults are QEMU's and are applied by the policy.
 */
export interface DataPathCliOptions {
  /** As given (checked): a sweep's table keeps it as text. */
  pageContents?: string;
  multifd?: boolean;
  multifdChannels?: number;
  multifdCompression?: Compression;
  multifdZlibLevel?: number;
  multifdZstdLevel?: number;
  zeroPageDetection?: ZeroPageDetection;
  hostCores?: number;
  xbzrleCache?: number;
}

function contentsOption(s: string): string {
  try {
    parseContentMix(s);
    return s;
  } catch (e) {
    throw new InvalidArgumentError((e as Error).message);
  }
}

/** multifd-channels: QEMU takes 1 to 255. */
function channelsOption(s: string): number {
  const n = positiveIntOption(s);
  if (n > 255) throw new InvalidArgumentError(`must be from 1 to 255 (QEMU's multifd-channels), got ${n}`);
  return n;
}

function levelOption(codec: 'zlib' | 'zstd'): (s: string) => number {
  return (s) => {
    const n = Number(s);
    const bad = codecLevelProblem(codec, n);
    if (bad) throw new InvalidArgumentError(bad);
    return n;
  };
}

function cacheOption(s: string): number {
  const bytes = sizeOption(s);
  const bad = xbzrleCacheSizeProblem(bytes);
  if (bad) throw new InvalidArgumentError(bad);
  return bytes;
}

export function addDataPathOptions(cmd: Command): Command {
  return cmd
    .option(
      '--page-contents <mix>',
      "what written pages hold when sent, e.g. zero=0.1,compressible=0.6,ratio=2.5 (the rest incompressible; ratio: zlib level 1's on the compressible pages); default: the workload's own mix, or a capture's default (README: the data path)",
      contentsOption,
    )
    .option('--multifd', "qemu: QEMU's multifd capability: pages in 512 KiB packets over parallel channels")
    .option('--multifd-channels <n>', 'qemu --multifd: channels, each a thread with its own socket (multifd-channels, 1 to 255; default 2)', channelsOption)
    .option('--multifd-compression <codec>', `qemu --multifd: ${COMPRESSIONS.join(', ')} (multifd-compression; default none)`, choiceOption('--multifd-compression', COMPRESSIONS))
    .option('--multifd-zlib-level <n>', `qemu --multifd-compression zlib: level 1 to ${ZLIB_MAX_LEVEL} (default 1)`, levelOption('zlib'))
    .option('--multifd-zstd-level <n>', `qemu --multifd-compression zstd: level 1 to ${ZSTD_MAX_LEVEL} (default 1)`, levelOption('zstd'))
    .option(
      '--zero-page-detection <where>',
      `qemu: ${ZERO_PAGE_DETECTIONS.join(', ')} (QEMU 9's zero-page-detection; default multifd: in the channels with --multifd, else legacy, on the migration thread; none: zero pages sent in full)`,
      choiceOption('--zero-page-detection', ZERO_PAGE_DETECTIONS),
    )
    .option('--host-cores <n>', 'qemu --multifd: host cores the migration thread and the channels share (default: one each)', positiveIntOption)
    .option('--xbzrle-cache <size>', "qemu: QEMU's xbzrle capability with this xbzrle-cache-size (a power of two, e.g. 64MiB): pages in the cache go as deltas after the first pass", cacheOption);
}

/** The migration options the data-path flags give; a flag that needs another missing is a UsageError. */
export function dataPathFromCli(o: DataPathCliOptions): Partial<MigrationOptions> {
  const multifd = Boolean(o.multifd);
  if (!multifd) {
    const needs = [
      ['--multifd-channels', o.multifdChannels],
      ['--multifd-compression', o.multifdCompression],
      ['--multifd-zlib-level', o.multifdZlibLevel],
      ['--multifd-zstd-level', o.multifdZstdLevel],
      ['--host-cores', o.hostCores],
    ] as const;
    const given = needs.find(([, v]) => v !== undefined);
    if (given) throw new UsageError(`${given[0]} needs --multifd (QEMU's multifd capability): add --multifd`);
  }
  if (o.multifdZlibLevel !== undefined && o.multifdCompression !== 'zlib') throw new UsageError('--multifd-zlib-level needs --multifd-compression zlib');
  if (o.multifdZstdLevel !== undefined && o.multifdCompression !== 'zstd') throw new UsageError('--multifd-zstd-level needs --multifd-compression zstd');
  if (multifd && o.xbzrleCache !== undefined) throw new UsageError('--multifd and --xbzrle-cache cannot be used together: "Multifd is not compatible with xbzrle" (QEMU\'s migrate_caps_check)');
  const channels = multifdChannelsOf(multifd, o.multifdChannels);
  return {
    ...(o.pageContents !== undefined ? { pageContents: parseContentMix(o.pageContents) } : {}),
    ...(channels > 0 ? { multifdChannels: channels } : {}),
    ...(o.multifdCompression ? { multifdCompression: o.multifdCompression } : {}),
    ...(o.multifdZlibLevel !== undefined ? { multifdZlibLevel: o.multifdZlibLevel } : {}),
    ...(o.multifdZstdLevel !== undefined ? { multifdZstdLevel: o.multifdZstdLevel } : {}),
    ...(o.zeroPageDetection ? { zeroPageDetection: o.zeroPageDetection } : {}),
    ...(o.hostCores !== undefined ? { hostCores: o.hostCores } : {}),
    ...(o.xbzrleCache !== undefined ? { xbzrleCacheBytes: o.xbzrleCache } : {}),
  };
}
