import { type Observable, type OperatorFunction, pipe, tap } from '../util/rx.js';
import type { GuestBatch } from '../events/guest-batch.js';
import type { RunBatch } from '../events/run-batch.js';
import { migrationDriver } from '../reducers/migration/migration-driver.js';
import { DEFAULT_MIGRATION, MAX_AFTER_END_LOOPS, type MigrationOptions } from '../reducers/migration/migration-options.js';
import { isRunFinal } from '../reducers/run-final.js';
import { type RunStreamItem, simulate } from '../reducers/simulate.js';
import { type MigrationSummary, summarize, type SummarySpec } from '../reducers/summary.js';
import type { TraceHeader } from '../trace/trace-records.js';
import { lastValueSync } from '../util/last-value-sync.js';
import { contentMixOf } from './content-mix-of.js';
import type { GuestSource } from './guest-source.js';
import { type SimulationOptions, simulationSetup } from './simulation-setup.js';

export type { MigrationSummary } from '../reducers/summary.js';

export interface MigrationRunOptions extends SimulationOptions {
  readonly migration?: Partial<MigrationOptions>;
}

/**
 * Migration options with the policy's defaults filled in. The start, when
 * not given, is half the guest events' duration (so the guest has been
 * running a while), as on the command line; without a header, 0.
 */
export function migrationOptions(partial: Partial<MigrationOptions> = {}, h?: TraceHeader): MigrationOptions {
  const startNs = h ? Math.floor(h.workload.durationNs / 2) : DEFAULT_MIGRATION.startNs;
  return { ...DEFAULT_MIGRATION, startNs, ...partial };
}

/**
 * What the run's policy is handed: the options, and the page contents of
 * the guest (the run option's mix, else the workload's or a capture's
 * default: content-mix-of.ts). Apart from migrationOptions so that a run
 * trace's header keeps recording what was asked, not what was derived.
 */
function policyOptions(mig: MigrationOptions, h: TraceHeader): MigrationOptions {
  return mig.pageContents ? mig : { ...mig, pageContents: contentMixOf(h) };
}

/**
 * A migration of the guest `h` describes, as an operator: guest batches in,
 * the run stream out (run batches, then the final record).
 */
export function migrate(h: TraceHeader, opts: MigrationRunOptions): OperatorFunction<GuestBatch, RunStreamItem> {
  const mig = policyOptions(migrationOptions(opts.migration, h), h);
  const countWriteBytes = (mig.xbzrleCacheBytes ?? 0) > 0;
  return simulate({ ...simulationSetup(h, opts), ...(countWriteBytes ? { countWriteBytes } : {}), driver: migrationDriver(mig), loopAfterEnd: mig.afterEnd === 'loop' ? MAX_AFTER_END_LOOPS : 0 });
}

/** What the summary fold of a migration of `h` under `opts` must know. */
export function migrationSummarySpec(h: TraceHeader, opts: MigrationRunOptions): SummarySpec {
  const setup = simulationSetup(h, opts);
  const mig = migrationOptions(opts.migration, h);
  return {
    mode: 'migration',
    tracker: opts.tracker,
    superpages: setup.superpages,
    p2m: setup.p2m,
    policy: mig.policy,
    startNs: mig.startNs,
    vcpus: h.guest.vcpus,
    bandwidthBytesPerSec: mig.bandwidthBytesPerSec,
    pageHeaderBytes: setup.costs.pageHeaderBytes,
    afterEnd: mig.afterEnd,
  };
}

/** The summary of a migration's run stream. */
export function summarizeMigration(h: TraceHeader, opts: MigrationRunOptions): OperatorFunction<RunStreamItem, MigrationSummary> {
  return summarize(migrationSummarySpec(h, opts)) as OperatorFunction<RunStreamItem, MigrationSummary>;
}

/** Sees each run batch as it fills (its columns are reused after the call: copy to keep). */
export function tapRunBatches(onRunBatch: (b: RunBatch) => void): OperatorFunction<RunStreamItem, RunStreamItem> {
  return tap((x) => {
    if (!isRunFinal(x)) onRunBatch(x);
  });
}

/** The run stream of a migration of the source's guest. */
export function migrationRun(source: GuestSource, opts: MigrationRunOptions): Observable<RunStreamItem> {
  return source.events().pipe(migrate(source.header, opts));
}

/** Runs a migration of the source's guest under a tracker and a policy; `onRunBatch` sees the run events. */
export function runMigration(source: GuestSource, opts: MigrationRunOptions, onRunBatch?: (b: RunBatch) => void): MigrationSummary {
  const h = source.header;
  return lastValueSync(migrationRun(source, opts).pipe(onRunBatch ? tapRunBatches(onRunBatch) : pipe(), summarizeMigration(h, opts)));
}
