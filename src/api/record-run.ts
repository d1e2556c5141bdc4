import { tap } from '../util/rx.js';
import { DEFAULT_COSTS } from '../model/cost-model.js';
import { DEFAULT_MIGRATION, type MigrationOptions } from '../reducers/migration/migration-options.js';
import { TraceError } from '../trace/trace-error.js';
import { TraceWriter } from '../trace/trace-writer.js';
import { runSpecProblem } from './run-spec-schema.js';
import type { TraceFooter, TraceHeader } from '../trace/trace-records.js';
import { lastValueSync } from '../util/last-value-sync.js';
import type { GuestSource } from './guest-source.js';
import { migrate, type MigrationRunOptions, type MigrationSummary, migrationOptions, summarizeMigration, tapRunBatches } from './run-migration.js';
import { simulationDefaults } from './simulation-setup.js';
import { DEFAULT_KVM, type KvmOptions } from '../reducers/kvm-options.js';
import { KVM_TRACKERS } from '../reducers/tracker.js';

/** The part of a run trace's header that says how to re-derive its run events. */
export interface RunSpec {
  readonly tracker: MigrationRunOptions['tracker'];
  readonly superpages: NonNullable<MigrationRunOptions['superpages']>;
  readonly p2m: NonNullable<MigrationRunOptions['p2m']>;
  readonly costs: NonNullable<MigrationRunOptions['costs']>;
  readonly migration: ReturnType<typeof migrationOptions>;
  readonly shadowOos?: boolean;
  /** KVM's trackers only: how logging was set up (all of it, defaults filled in). */
  readonly kvm?: KvmOptions;
}

export function runSpec(opts: MigrationRunOptions, h?: TraceHeader): RunSpec {
  return {
    tracker: opts.tracker,
    ...simulationDefaults(opts),
    migration: migrationOptions(opts.migration, h),
    ...(opts.shadowOos ? { shadowOos: true } : {}),
    ...(KVM_TRACKERS.includes(opts.tracker) ? { kvm: { ...DEFAULT_KVM, ...opts.kvm } } : {}),
  };
}

/**
 * The run spec a run trace's header records, checked first
 * (src/api/run-spec-schema.ts): a bad one is a TraceError naming `file`.
 * A trace written before a cost or an option was added carries no value for
 * it: this version's default applies, except where the option changed the
 * behaviour (afterEnd): there the trace gets the behaviour it was recorded
 * with.
 */
export function runSpecOf(header: TraceHeader, file: string): RunSpec {
  const bad = runSpecProblem(header);
  if (bad) throw new TraceError(file, `bad header field ${bad}`, undefined, 'header', 'the file was altered, or written by another program; record it again');
  const spec = header.run as unknown as RunSpec;
  // A trace recorded before --after-end existed ended its run with the guest's events.
  return { ...spec, costs: { ...DEFAULT_COSTS, ...spec.costs }, migration: { ...DEFAULT_MIGRATION, afterEnd: 'stop', ...(spec.migration as Partial<MigrationOptions>) } };
}

/**
 * Migrates and records a run trace: the guest events and the run events
 * (faults, exits, log-dirty operations, migration phases) interleaved as
 * they happen, with the summary and final state digest in the footer, so the
 * file replays and checks itself with nothing else (DESIGN section 9). The
 * recorder taps the pipe twice: each guest batch before the simulation
 * folds it, each run batch as it leaves.
 */
export function recordRun(source: GuestSource, opts: MigrationRunOptions, out: string): { summary: MigrationSummary; footer: TraceFooter } {
  const spec = runSpec(opts, source.header);
  const header: TraceHeader = { ...source.header, traceKind: 'run', run: { ...spec } };
  const writer = new TraceWriter(out, header);
  try {
    const summary = lastValueSync(
      source.events().pipe(
        tap((b) => writer.writeGuestBatch(b)),
        migrate(header, spec),
        tapRunBatches((rb) => writer.writeRunBatch(rb)),
        summarizeMigration(header, spec),
      ),
    );
    const footer = writer.finish({ run: { summary: summary as unknown as Record<string, unknown> } });
    return { summary, footer };
  } catch (e) {
    writer.abort();
    throw e;
  }
}
