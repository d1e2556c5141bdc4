/**
 * What a migration run is told: the policy and its knobs, each with the real
 * system's constant as the default.
 */
import type { Compression } from './page-codec.js';
import type { ContentMix } from './page-contents.js';

export type PolicyName = 'xen' | 'xen-legacy' | 'qemu' | 'postcopy' | 'checkpoint' | 'remus';
export const POLICY_NAMES: readonly PolicyName[] = ['xen', 'xen-legacy', 'qemu', 'postcopy', 'checkpoint', 'remus'];

export interface MigrationOptions {
  readonly policy: PolicyName;
  /** Wall time the migration starts at. */
  readonly startNs: number;
  /** The link (default 1 Gbit/s). Stop-and-copy always runs at this speed. */
  readonly bandwidthBytesPerSec: number;
  /** QEMU's max-bandwidth for live sending (migration/options.c: 128 MiB/s). */
  readonly maxBandwidthBytesPerSec: number;
  /** QEMU's downtime-limit (migration/options.c: 300 ms). */
  readonly downtimeLimitNs: number;
  /** QEMU's auto-converge capability. */
  readonly autoConverge: boolean;
  /** QEMU's cpu-throttle-initial (20), cpu-throttle-increment (10), cpu-throttle-tailslow (off) and max-cpu-throttle (99): migration/options.c. */
  readonly throttleInitialPct: number;
  readonly throttleIncrementPct: number;
  readonly throttleTailslow: boolean;
  readonly maxThrottlePct: number;
  /** Live passes before stop-and-copy: Xen v2's SPP_MAX_ITERATIONS 5; xc_domain_save's DEF_MAX_ITERS 29. */
  readonly maxIters?: number;
  /** xc_domain_save's DEF_MAX_FACTOR: stop once more than this many times memory was sent. */
  readonly maxFactor: number;
  /** Remus checkpoint interval (xl remus: 200 ms). */
  readonly epochNs: number;
  /** Post-copy: live passes before the switch (1 = after the first full pass). */
  readonly postcopyAfterPasses: number;
  /**
   * QEMU post-copy, each absent unless given (absent: today's behaviour and
   * QEMU's defaults): postcopy-preempt (QEMU 8.0 capability: requested pages
   * on a channel of their own), max-postcopy-bandwidth (the background
   * stream's cap after the switch; QEMU's default 0, no cap) and the host
   * page size of guest RAM (hugetlbfs backing: post-copy places host pages
   * whole; anonymous memory is 4k, THP being off during post-copy).
   */
  readonly postcopyPreempt?: boolean;
  readonly maxPostcopyBandwidthBytesPerSec?: number;
  readonly hostPageSize?: HostPageSize;
  /**
   * Device state (absent: the cost model's deviceStateBytes and none of
   * the rest): the stop-copy device state sent while the guest is stopped;
   * a device's pre-copy data (VFIO's initial data, sent at the start of the
   * live phase) and the time the destination takes to load it; QEMU 8.1's
   * switchover-ack capability (the source does not stop until the
   * destination acknowledges that data loaded); QEMU 8.2's
   * avail-switchover-bandwidth (used instead of the measured bandwidth for
   * the switch-over threshold).
   */
  readonly deviceStateBytes?: number;
  readonly devicePrecopyBytes?: number;
  readonly deviceLoadNs?: number;
  readonly switchoverAck?: boolean;
  readonly availSwitchoverBandwidthBytesPerSec?: number;
  /** For tests: the post-copy source forgets this many missing pages, so the phase's check must find them lost. */
  readonly forgetPostcopyPages?: number;
  /** For tests: skip PV canonicalisation, so the oracle must catch the broken page tables. */
  readonly skipCanonicalise?: boolean;
  /**
   * What the guest does once its events end and the migration has not
   * completed: `idle` (it keeps running, writing nothing: the migration goes
   * on to its end), `loop` (its events are replayed again, shifted in time by
   * their span, until the migration ends: at most MAX_AFTER_END_LOOPS times),
   * or `stop` (the run ends there, incomplete).
   */
  readonly afterEnd: AfterEnd;
  /**
   * What pages hold (page-contents.ts): the workload's or capture's mix,
   * or the run option's. Absent: every written page opaque and none zero,
   * migsim's rule before page contents existed.
   */
  readonly pageContents?: ContentMix;
  /** QEMU's multifd capability: channels (multifd-channels); absent or 0: off. */
  readonly multifdChannels?: number;
  /** multifd-compression, and its levels (multifd-zlib-level, multifd-zstd-level: default 1). */
  readonly multifdCompression?: Compression;
  readonly multifdZlibLevel?: number;
  readonly multifdZstdLevel?: number;
  /** QEMU 9's zero-page-detection (default multifd, which without multifd means legacy). */
  readonly zeroPageDetection?: ZeroPageDetection;
  /** Host cores the migration thread and the multifd channels may use between them (absent: one each). */
  readonly hostCores?: number;
  /** QEMU's xbzrle capability with xbzrle-cache-size in bytes; absent or 0: off. */
  readonly xbzrleCacheBytes?: number;
}

/**
 * QEMU's zero-page-detection parameter (migration/options.c, QEMU 9.0):
 * `legacy` checks each page with buffer_is_zero on the migration thread
 * and sends a zero page as a flag (ram.c save_zero_page); `multifd` checks
 * in the channel threads (multifd-zero-page.c multifd_send_zero_page_detect)
 * and lists zero pages in the packet; `none` sends zero pages as any other.
 * Without multifd, `multifd` means `legacy` (ram_save_target_page_common).
 */
export type ZeroPageDetection = 'none' | 'legacy' | 'multifd';
export const ZERO_PAGE_DETECTIONS: readonly ZeroPageDetection[] = ['none', 'legacy', 'multifd'];
/** multifd-channels' default when the capability is on (migration/options.c DEFAULT_MIGRATE_MULTIFD_CHANNELS). */
export const DEFAULT_MULTIFD_CHANNELS = 2;

export type AfterEnd = 'idle' | 'loop' | 'stop';

/** Host page sizes of guest RAM: anonymous memory, 2 MiB and 1 GiB hugetlbfs. */
export type HostPageSize = '4k' | '2m' | '1g';
export const HOST_PAGE_SIZES: readonly HostPageSize[] = ['4k', '2m', '1g'];
const HOST_PAGE_PAGES: Readonly<Record<HostPageSize, number>> = { '4k': 1, '2m': 512, '1g': 262_144 };

/** 4 KiB pages per host page of the guest's RAM (1 unless hugetlbfs-backed). */
export function hostPagePages(opts: Pick<MigrationOptions, 'hostPageSize'>): number {
  return HOST_PAGE_PAGES[opts.hostPageSize ?? '4k'];
}
export const AFTER_END_MODES: readonly AfterEnd[] = ['idle', 'loop', 'stop'];
/**
 * `loop` replays the guest's events at most this many times: a migration
 * that has not converged after a hundred replays of its workload (QEMU
 * without auto-converge on a guest that out-dirties the link, say) would
 * not converge on a real host either; the run is then incomplete.
 */
export const MAX_AFTER_END_LOOPS = 100;

export const DEFAULT_MIGRATION: MigrationOptions = {
  policy: 'xen',
  startNs: 0,
  bandwidthBytesPerSec: 125_000_000,
  maxBandwidthBytesPerSec: 128 * 1024 * 1024,
  downtimeLimitNs: 300_000_000,
  autoConverge: false,
  throttleInitialPct: 20,
  throttleIncrementPct: 10,
  throttleTailslow: false,
  maxThrottlePct: 99,
  maxFactor: 3,
  epochNs: 200_000_000,
  postcopyAfterPasses: 1,
  afterEnd: 'idle',
};

/** Xen's batch: MAX_BATCH_SIZE in xc_domain_save.c and xg_sr_save.c. */
export const XEN_BATCH_PAGES = 1024;
/** xg_sr_save.c simple_precopy_policy. */
export const SPP_MAX_ITERATIONS = 5;
export const SPP_TARGET_DIRTY_COUNT = 50;
/** xc_domain_save.c. */
export const DEF_MAX_ITERS = 29;
export const LEGACY_MIN_PAGES = 50;
/** QEMU: migration_update_counters runs every BUFFER_DELAY (100 ms). */
export const QEMU_WINDOW_NS = 100_000_000;
/** QEMU auto-converge: checked over periods of at least 1 s; throttle-trigger-threshold 50%. */
export const THROTTLE_PERIOD_NS = 1_000_000_000;
export const THROTTLE_TRIGGER_PCT = 50;
