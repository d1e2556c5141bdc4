import { z } from 'zod';
import type { MigrationSummary } from '../api/run-migration.js';
import { POLICY_NAMES } from '../reducers/migration/migration-options.js';
import type { SummaryFold } from '../reducers/summary.js';
import { P2M_PAGE_SIZES, SUPERPAGE_POLICIES, TRACKER_NAMES } from '../reducers/tracker.js';
import { TraceError } from '../trace/trace-error.js';
import type { TraceFooter } from '../trace/trace-records.js';
import { firstIssue } from '../trace/trace-schemas.js';

/**
 * The shape of the migration summary a run trace's footer holds
 * (src/reducers/summary.ts MigrationSummary), checked before a report or
 * an export draws it: a field of the wrong type (an outcome that is a
 * number, rounds that are not a list) would otherwise crash the drawing.
 * Whether its figures are the ones its events give is `replay`'s to say:
 * it folds them again (SummaryFold) and compares.
 */
const n = z.number();
const tally = z.record(z.string(), z.object({ count: n, costNs: n }));
const enumOf = (values: readonly string[]) => z.enum(values as [string, ...string[]]);

const migrationSummarySchema = z.object({
  tracker: enumOf(TRACKER_NAMES),
  policy: enumOf(POLICY_NAMES),
  superpages: enumOf(SUPERPAGE_POLICIES),
  p2m: enumOf(P2M_PAGE_SIZES),
  outcome: z.enum(['completed', 'incomplete', 'failed']),
  stopReason: z.string(),
  startNs: n,
  totalNs: n,
  downtimeNs: n,
  downtime: z.object({ suspendNs: n, finalCleanNs: n, finalPagesNs: n, canonicaliseNs: n, stateNs: n, resumeNs: n, deviceStateNs: n.optional(), deviceLoadNs: n.optional() }),
  setupNs: n,
  remainingPages: n.optional(),
  rounds: z.array(z.object({ round: n, startNs: n, endNs: n, pagesSent: n, zeroPages: n, pagesSkipped: n, bytesSent: n, dirtyPages: n, expectedDowntimeNs: n })),
  dirtySyncCount: n,
  pagesSent: n,
  zeroPagesSent: n,
  normalPages: n,
  normalBytes: n,
  bytesSent: n,
  precopyBytes: n,
  downtimeBytes: n,
  postcopyBytes: n.optional(),
  checkpointBytes: n.optional(),
  throughputBitsPerSec: n,
  pagesPerSec: n,
  dirtyPagesRate: n,
  guestEvents: n,
  guestNs: n,
  wallNs: n,
  stallNs: n,
  slowdown: n,
  exits: tally,
  migrationExits: tally,
  migrationStallNs: n,
  migrationSlowdown: n,
  trackerMemoryBytes: n,
  trackerStats: z.record(z.string(), n),
  throttlePct: n,
  throttleSteps: z.array(z.object({ atNs: n, pct: n })),
  postcopyFaults: n,
  postcopyFaultStallNs: n,
  postcopyRequests: n.optional(),
  postcopyBlocktimeNs: n.optional(),
  postcopyVcpuBlocktimeNs: z.array(n).optional(),
  epochs: z.array(z.object({ epoch: n, atNs: n, dirtyPages: n, pauseNs: n, bytesSent: n })),
  lostPages: n,
  firstLostPfns: z.array(n),
  lostPtes: n,
  stateDigest: z.string(),
});

/**
 * The migration summary in a run trace's footer, its shape checked and its
 * event-given figures compared with `fold`, the fold of the trace's run
 * events; a TraceError naming `file` if it has none, a malformed one, or
 * one its events contradict.
 */
export function footerSummary(file: string, footer: TraceFooter, fold: SummaryFold): MigrationSummary {
  const summary = footer.run?.['summary'];
  if (summary === undefined) {
    throw new TraceError(file, 'has no migration summary in its footer', undefined, 'footer', 'it was recorded without a migration (run --round); record it with migsim run --record');
  }
  const parsed = migrationSummarySchema.safeParse(summary);
  const altered = 'the file was altered, or written by another program; record it again';
  if (!parsed.success) throw new TraceError(file, `bad footer field run.summary.${firstIssue(parsed.error)}`, undefined, 'footer', altered);
  const bad = fold.disagreement(summary as MigrationSummary);
  if (bad) throw new TraceError(file, `the footer's summary is not what its run events give: ${bad}`, undefined, 'footer', altered);
  return summary as MigrationSummary;
}
