import { z } from 'zod';
import { CostModelError } from '../model/cost-model.js';
import { costModelWith } from '../model/cost-model-file.js';
import { HOST_PAGE_SIZES, POLICY_NAMES, ZERO_PAGE_DETECTIONS } from '../reducers/migration/migration-options.js';
import { COMPRESSIONS, ZLIB_MAX_LEVEL, ZSTD_MAX_LEVEL } from '../reducers/migration/page-codec.js';
import { contentMixProblem } from '../reducers/migration/page-contents.js';
import { xbzrleCacheSizeProblem } from '../reducers/migration/xbzrle-cache.js';
import { checkPairing, TrackerPairingError } from '../reducers/make-tracker.js';
import { P2M_PAGE_SIZES, type P2mPageSize, SUPERPAGE_POLICIES, TRACKER_NAMES } from '../reducers/tracker.js';
import { shadowPoolPagesOf } from '../model/shadow-pool-size.js';
import type { TraceHeader } from '../trace/trace-records.js';
import { CLEAR_BITMAP_SHIFT_MAX, CLEAR_BITMAP_SHIFT_MIN, DIRTY_RING_MAX_ENTRIES, DIRTY_RING_MIN_ENTRIES, dirtyRingSizeProblem } from '../reducers/kvm-options.js';
import { firstIssue } from '../trace/trace-schemas.js';

/**
 * The run a run trace's header records (src/api/record-run.ts RunSpec),
 * checked before any of it drives a simulation: names the simulator
 * knows, a tracker the guest can take, costs within the cost model's
 * bounds, and migration knobs with the ranges `run` gives its flags.
 * Times stay integers below 2^53 ns; a bandwidth below 1 kB/s would take
 * longer than that to send the largest guest.
 */
const safeNs = z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER);
const bandwidth = z.number().min(1000).max(1e15);
const passes = z.number().int().positive().max(1_000_000);

const migrationSchema = z
  .object({
    policy: z.enum(POLICY_NAMES as [string, ...string[]]),
    startNs: safeNs,
    bandwidthBytesPerSec: bandwidth,
    // A fleet's controller may leave QEMU unlimited (KubeVirt's bandwidthPerMigration 0).
    maxBandwidthBytesPerSec: bandwidth.or(z.literal(Infinity)),
    downtimeLimitNs: safeNs,
    autoConverge: z.boolean(),
    // Added later: a trace written before them lacks them (record-run.ts runSpecOf fills them in).
    throttleInitialPct: z.number().int().min(1).max(99).optional(),
    throttleIncrementPct: z.number().int().min(1).max(99).optional(),
    throttleTailslow: z.boolean().optional(),
    maxThrottlePct: z.number().int().min(1).max(99).optional(),
    afterEnd: z.enum(['idle', 'loop', 'stop']).optional(),
    maxIters: passes.optional(),
    maxFactor: z.number().positive().max(1_000_000),
    // xl remus takes its interval in whole ms; each epoch pauses the guest
    // for a suspend and resume (ms), so a shorter one would leave it almost
    // no time to run between them, and a replay hardly ever ending.
    epochNs: safeNs.min(1_000_000),
    postcopyAfterPasses: passes,
    skipCanonicalise: z.boolean().optional(),
    // QEMU's data path (added later; absent: off, and the workload's page contents).
    pageContents: z
      .object({ zero: z.number(), compressible: z.number(), ratio: z.number(), why: z.string().max(1000) })
      .strict()
      .refine((m) => contentMixProblem(m) === undefined, { message: 'a page-content mix: fractions from 0 to 1 adding up to at most 1, a ratio from 1 to 4096' })
      .optional(),
    multifdChannels: z.number().int().min(0).max(255).optional(),
    multifdCompression: z.enum(COMPRESSIONS as [string, ...string[]]).optional(),
    multifdZlibLevel: z.number().int().min(1).max(ZLIB_MAX_LEVEL).optional(),
    multifdZstdLevel: z.number().int().min(1).max(ZSTD_MAX_LEVEL).optional(),
    zeroPageDetection: z.enum(ZERO_PAGE_DETECTIONS as [string, ...string[]]).optional(),
    hostCores: z.number().int().positive().max(4096).optional(),
    xbzrleCacheBytes: z
      .number()
      .refine((n) => n === 0 || xbzrleCacheSizeProblem(n) === undefined, { message: 'a power of two of 4 KiB pages' })
      .optional(),
    forgetPostcopyPages: z.number().int().nonnegative().optional(),
    // QEMU's post-copy and device options: recorded only when given.
    postcopyPreempt: z.boolean().optional(),
    maxPostcopyBandwidthBytesPerSec: bandwidth.optional(),
    hostPageSize: z.enum(HOST_PAGE_SIZES as [string, ...string[]]).optional(),
    deviceStateBytes: z.number().int().nonnegative().max(2 ** 40).optional(),
    devicePrecopyBytes: z.number().int().nonnegative().max(2 ** 40).optional(),
    deviceLoadNs: safeNs.optional(),
    switchoverAck: z.boolean().optional(),
    availSwitchoverBandwidthBytesPerSec: bandwidth.optional(),
  })
  .strict();

const runSpecSchema = z
  .object({
    tracker: z.enum(TRACKER_NAMES as [string, ...string[]]),
    superpages: z.enum(SUPERPAGE_POLICIES as [string, ...string[]]),
    p2m: z.enum(P2M_PAGE_SIZES as [string, ...string[]]),
    costs: z.record(z.string(), z.unknown()),
    migration: migrationSchema,
    /** A VM of a fleet (src/api/record-fleet.ts): its inputs are in the footer. */
    fleet: z.object({ vm: z.string(), from: z.string(), to: z.string() }).strict().optional(),
    shadowOos: z.boolean().optional(),
    kvm: z
      .object({
        manualProtect: z.boolean(),
        clearBitmapShift: z.number().int().min(CLEAR_BITMAP_SHIFT_MIN).max(CLEAR_BITMAP_SHIFT_MAX),
        eagerPageSplit: z.boolean(),
        dirtyRingSize: z.number().int().refine((n) => dirtyRingSizeProblem(n) === undefined, { message: `a power of two from ${DIRTY_RING_MIN_ENTRIES} to ${DIRTY_RING_MAX_ENTRIES}` }),
        dirtyLimitBytesPerSec: z.number().nonnegative().max(1e15),
      })
      .strict()
      .optional(),
  })
  .strict();

/** Levels of page table a shadow walk holds (tracker-shadow.ts: one top-level shadow per vCPU plus a walk's path). */
const LEVELS = { 'x86-64': 4, pae: 3 } as const;

/** What is wrong with a run trace header's run, as "field: why", or undefined. */
export function runSpecProblem(h: TraceHeader): string | undefined {
  const parsed = runSpecSchema.safeParse(h.run);
  if (!parsed.success) return `run.${firstIssue(parsed.error)}`;
  const spec = parsed.data;
  try {
    checkPairing(spec.tracker as (typeof TRACKER_NAMES)[number], h.guest.type, h.guest.memPages);
  } catch (e) {
    if (e instanceof TrackerPairingError) return `run.tracker: ${e.message}`;
    throw e;
  }
  try {
    const costs = costModelWith(spec.costs, 'run.costs');
    const minShadows = h.guest.vcpus + LEVELS[h.guest.paging];
    const poolPages = shadowPoolPagesOf(costs, h.guest, spec.p2m as P2mPageSize);
    if (spec.tracker === 'shadow' && Math.floor(poolPages / costs.shadowPagesPerTable) < minShadows) {
      return `run.costs: a shadow pool of ${poolPages} pages holds fewer than the ${minShadows} shadows a ${h.guest.vcpus}-vCPU guest needs`;
    }
  } catch (e) {
    if (e instanceof CostModelError) return e.message;
    throw e;
  }
  return undefined;
}
