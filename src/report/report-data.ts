import { tap } from '../util/rx.js';
import type { GuestSource } from '../api/guest-source.js';
import { guestTimeShare } from '../api/guest-time-share.js';
import { type RunSpec, runSpec } from '../api/record-run.js';
import { type MigrationRunOptions, type MigrationSummary, migrationSummarySpec, runMigration } from '../api/run-migration.js';
import { SummaryFold } from '../reducers/summary.js';
import type { TrackerName } from '../reducers/tracker.js';
import type { TraceHeader } from '../trace/trace-records.js';
import { footerSummary } from './footer-summary.js';
import { openRunTrace } from './open-run-trace.js';
import { MIGRATION_WINDOW, type ReportWindow } from './report-window.js';
import { runLabels } from './run-label.js';
import { RunTimelineCollector, type RunTimeline } from './run-timeline.js';

export type { DirtyRateSegment, RunTimeline, TimelineBucket } from './run-timeline.js';
export { MAX_TIMELINE_BUCKETS } from './timeline-buckets.js';

/**
 * The runs a report shows: each migration's header, run spec and summary
 * (the summary fold of its run events), and the timeline folded from the
 * same events (src/report/run-timeline.ts). Runs are labelled by what they
 * are (src/report/run-label.ts), never by the file they came from.
 */

/** Everything a report shows about one migration. */
export interface RunReport {
  /** What the run is, or what differs from the other runs of the report ("qemu, 10 Gbit/s"). */
  readonly label: string;
  /** The run trace it was read from, if any. */
  readonly file?: string;
  readonly header: TraceHeader;
  readonly spec: RunSpec;
  readonly summary: MigrationSummary;
  readonly timeline: RunTimeline;
}

/** A run to simulate for a report: the guest events and everything about the migration. */
export interface RunVariant {
  readonly source: GuestSource;
  readonly options: MigrationRunOptions;
}

/** The runs with their labels set by what differs between them. */
export function labelled(runs: readonly Omit<RunReport, 'label'>[]): RunReport[] {
  const labels = runLabels(runs);
  return runs.map((r, i) => ({ ...r, label: labels[i]! }));
}

/**
 * Reads a run trace (written by `migsim run --record`) in one streaming
 * pass: its header, its run events folded into a timeline, and the summary
 * in its footer. `onProgress` gets the share of guest time read so far.
 */
export function runFromTrace(file: string, window: ReportWindow = MIGRATION_WINDOW, onProgress?: (fraction: number) => void): Omit<RunReport, 'label'> {
  const { reader, header, spec } = openRunTrace(file, 'record a run trace with:');
  const collector = new RunTimelineCollector(window, spec, header.guest.vcpus, header.workload.durationNs, header.guest.memPages);
  const fold = new SummaryFold(migrationSummarySpec(header, spec));
  const share = guestTimeShare(header);
  const footer = reader.forEachChunk((c) => {
    if (c.stream === 'run') {
      collector.add(c.batch);
      fold.add(c.batch);
    } else onProgress?.(share(c.batch.endNs));
  });
  const summary = footerSummary(file, footer, fold);
  return { file, header, spec, summary, timeline: collector.finish(summary) };
}

/** One run trace as a report's run, labelled by what it is. */
export function runReportFromTrace(file: string, window: ReportWindow = MIGRATION_WINDOW, onProgress?: (fraction: number) => void): RunReport {
  return labelled([runFromTrace(file, window, onProgress)])[0]!;
}

/**
 * Each variant migrated, keeping its run events as a timeline. Variants
 * that name the same guest source migrate the same guest events (a source
 * regenerates them identically from its seed). `onProgress` gets the runs
 * done (fractional: 1.5 is halfway through the second).
 */
export function runReports(variants: readonly RunVariant[], window: ReportWindow = MIGRATION_WINDOW, onProgress?: (runsDone: number) => void): RunReport[] {
  const runs = variants.map((v, i) => {
    const h = v.source.header;
    const spec = runSpec(v.options, h);
    const collector = new RunTimelineCollector(window, spec, h.guest.vcpus, h.workload.durationNs, h.guest.memPages);
    const share = guestTimeShare(h);
    const source: GuestSource = onProgress ? { ...v.source, events: () => v.source.events().pipe(tap((b) => onProgress(i + share(b.endNs)))) } : v.source;
    const summary = runMigration(source, v.options, (b) => collector.add(b));
    onProgress?.(i + 1);
    const header: TraceHeader = { ...h, traceKind: 'run', run: { ...spec } };
    return { header, spec, summary, timeline: collector.finish(summary) };
  });
  return labelled(runs);
}

/** The same guest events migrated under each tracker (the tracker axis of runReports). */
export function compareRunReports(
  source: GuestSource,
  trackers: readonly TrackerName[],
  opts: Omit<MigrationRunOptions, 'tracker'>,
  onProgress?: (runsDone: number) => void,
  window: ReportWindow = MIGRATION_WINDOW,
): RunReport[] {
  return runReports(
    trackers.map((tracker) => ({ source, options: { ...opts, tracker } })),
    window,
    onProgress,
  );
}
