import type { RunBatch } from '../events/run-batch.js';
import type { GuestSource } from './guest-source.js';
import { type MigrationRunOptions, type MigrationSummary, runMigration } from './run-migration.js';
import type { TrackerName } from '../reducers/tracker.js';
import { bestOf } from './best-of.js';
import { DEFAULT_COSTS } from '../model/cost-model.js';
import { zeroPageWireBytes } from '../reducers/migration/qemu-data-path.js';


export interface CompareResult {
  readonly summaries: readonly MigrationSummary[];
  /** One row per figure: its value per tracker (in `trackers` order) and the best one. */
  readonly figures: readonly CompareFigure[];
}

export interface CompareFigure {
  readonly name: string;
  readonly unit: 'ns' | 'pages' | 'bytes' | 'count' | 'ratio' | 'bits/s' | 'pages/s';
  readonly values: readonly number[];
  /**
   * Index of the best value (the lowest, among completed runs only), or -1:
   * when all are equal, when fewer than two runs completed, or on a row
   * where lower is not better (more rounds can mean a better converged
   * migration, not a worse one).
   */
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
  return compareResult(summaries, (opts.costs ?? DEFAULT_COSTS).pageHeaderBytes);
}

/** The comparison's rows, from each tracker's summary (in `trackers` order); a zero page's bytes on the wire are its header's. */
export function compareResult(summaries: readonly MigrationSummary[], pageHeaderBytes: number): CompareResult {
  const exitCount = (s: MigrationSummary) => Object.values(s.migrationExits).reduce((a, e) => a + e.count, 0);
  const completed = summaries.map((s) => s.outcome === 'completed');
  const policy = summaries[0]?.policy;
  const fig = (name: string, unit: CompareFigure['unit'], f: (s: MigrationSummary) => number, lowerIsBetter = true): CompareFigure => {
    const values = summaries.map(f);
    return { name, unit, values, best: lowerIsBetter ? bestOf(values, completed) : -1 };
  };
  return {
    summaries,
    figures: [
      fig('downtime', 'ns', (s) => s.downtimeNs),
      fig('total time', 'ns', (s) => s.totalNs),
      fig('rounds', 'count', (s) => s.rounds.length, false),
      fig('pages sent', 'pages', (s) => s.pagesSent),
      fig('bytes sent', 'bytes', (s) => s.bytesSent),
      fig('final pages', 'pages', (s) => s.rounds[s.rounds.length - 1]?.pagesSent ?? 0),
      fig('guest slowdown (live phase)', 'ratio', (s) => s.migrationSlowdown),
      fig('guest slowdown (whole run)', 'ratio', (s) => s.slowdown),
      fig('vCPU stall (live phase)', 'ns', (s) => s.migrationStallNs),
      fig('exits and faults (live phase)', 'count', exitCount),
      fig('tracker memory', 'bytes', (s) => s.trackerMemoryBytes),
      fig('lost pages', 'pages', (s) => s.lostPages + s.lostPtes),
      // Added after the first twelve, so that their indices hold. None of
      // these is better lower except the stall, exits and post-copy waits:
      // the rest describe the migration (what went when), not its quality.
      fig('vCPU stall (whole run)', 'ns', (s) => s.stallNs),
      fig('exits and faults (whole run)', 'count', (s) => Object.values(s.exits).reduce((a, e) => a + e.count, 0)),
      fig('throughput', 'bits/s', (s) => s.throughputBitsPerSec, false),
      fig('pages per second', 'pages/s', (s) => s.pagesPerSec, false),
      fig('normal pages', 'pages', (s) => s.normalPages, false),
      fig('normal bytes', 'bytes', (s) => s.normalBytes, false),
      fig('zero pages', 'pages', (s) => s.zeroPagesSent, false),
      fig('zero bytes', 'bytes', (s) => s.zeroPagesSent * zeroPageWireBytes(s.dataPath, pageHeaderBytes), false),
      fig('pre-copy bytes', 'bytes', (s) => s.precopyBytes, false),
      fig('stop-and-copy bytes', 'bytes', (s) => s.downtimeBytes, false),
      ...(policy === 'postcopy' ? [fig('post-copy bytes', 'bytes', (s) => s.postcopyBytes ?? 0, false)] : []),
      ...(policy === 'remus' ? [fig('checkpoint bytes', 'bytes', (s) => s.checkpointBytes ?? 0, false)] : []),
      fig('dirty rate (live phase)', 'pages/s', (s) => s.dirtyPagesRate, false),
      fig('dirty-sync-count', 'count', (s) => s.dirtySyncCount, false),
      ...(policy === 'postcopy'
        ? [
            fig('post-copy faults', 'count', (s) => s.postcopyFaults),
            fig('post-copy fault wait', 'ns', (s) => s.postcopyFaultStallNs),
            // QEMU's postcopy-blocktime: the time every vCPU was blocked at once.
            fig('post-copy blocktime', 'ns', (s) => s.postcopyBlocktimeNs ?? 0),
          ]
        : []),
    ],
  };
}

