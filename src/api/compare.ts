import type { RunBatch } from '../events/run-batch.js';
import type { GuestSource } from './guest-source.js';
import { type MigrationRunOptions, type MigrationSummary, runMigration } from './run-migration.js';
import type { TrackerName } from '../reducers/tracker.js';


export interface CompareResult {
  readonly summaries: readonly MigrationSummary[];
  /** One row per figure: its value per tracker (in `trackers` order) and the best one. */
  readonly figures: readonly CompareFigure[];
}

export interface CompareFigure {
  readonly name: string;
  readonly unit: 'ns' | 'pages' | 'bytes' | 'count' | 'ratio';
  readonly values: readonly number[];
  /** Index of the best value (lowest), or -1 when all are equal. */
  readonly best: number;
}

/** `run` is the run's index in `trackers`: the same tracker may be listed twice. */
export interface CompareHooks {
  /** Each tracker's summary, as soon as its run is over. */
  readonly onEach?: (tracker: TrackerName, summary: MigrationSummary, run: number) => void;
  /** Each tracker's run events, as they fill (the report draws its timelines from them). */
  readonly onRunBatch?: (tracker: TrackerName, batch: RunBatch, run: number) => void;
}

/** The same guest events migrated under each tracker, side by side. */
export function compareTrackers(source: GuestSource, trackers: readonly TrackerName[], opts: Omit<MigrationRunOptions, 'tracker'>, hooks: CompareHooks = {}): CompareResult {
  const summaries = trackers.map((tracker, run) => {
    const s = runMigration(source, { ...opts, tracker }, hooks.onRunBatch ? (b) => hooks.onRunBatch!(tracker, b, run) : undefined);
    hooks.onEach?.(tracker, s, run);
    return s;
  });
  const exitCount = (s: MigrationSummary) => Object.values(s.migrationExits).reduce((a, e) => a + e.count, 0);
  const fig = (name: string, unit: CompareFigure['unit'], f: (s: MigrationSummary) => number): CompareFigure => {
    const values = summaries.map(f);
    const min = Math.min(...values);
    const best = values.every((v) => v === min) ? -1 : values.indexOf(min);
    return { name, unit, values, best };
  };
  return {
    summaries,
    figures: [
      fig('downtime', 'ns', (s) => s.downtimeNs),
      fig('total time', 'ns', (s) => s.totalNs),
      fig('rounds', 'count', (s) => s.rounds.length),
      fig('pages sent', 'pages', (s) => s.pagesSent),
      fig('bytes sent', 'bytes', (s) => s.bytesSent),
      fig('final pages', 'pages', (s) => s.rounds[s.rounds.length - 1]?.pagesSent ?? 0),
      fig('guest slowdown', 'ratio', (s) => s.migrationSlowdown),
      fig('vCPU stall', 'ns', (s) => s.migrationStallNs),
      fig('exits and faults', 'count', exitCount),
      fig('tracker memory', 'bytes', (s) => s.trackerMemoryBytes),
      fig('lost pages', 'pages', (s) => s.lostPages + s.lostPtes),
    ],
  };
}
