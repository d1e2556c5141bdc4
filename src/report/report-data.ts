import { tap } from 'rxjs';
import type { GuestSource } from '../api/guest-source.js';
import { guestTimeShare } from '../api/guest-time-share.js';
import { type RunSpec, runSpec } from '../api/record-run.js';
import { compareTrackers } from '../api/compare.js';
import { type MigrationRunOptions, type MigrationSummary, migrationSummarySpec } from '../api/run-migration.js';
import { SummaryFold } from '../reducers/summary.js';
import { NO_VCPU } from '../events/guest-event-kind.js';
import type { RunBatch } from '../events/run-batch.js';
import { runEventCostNs } from '../events/run-cost.js';
import { RUN_EVENT_KIND_NAMES, RunEventKind } from '../events/run-event-kind.js';
import type { TrackerName } from '../reducers/tracker.js';
import type { TraceHeader } from '../trace/trace-records.js';
import { footerSummary } from './footer-summary.js';
import { openRunTrace } from './open-run-trace.js';

/**
 * The series a report draws, extracted from a migration summary and its
 * run events. Run events are folded into fixed-width wall-time buckets as
 * they stream past, so a run trace of millions of exits takes a few
 * kilobytes here. Buckets start at 100 us; when the migration outlasts
 * them, adjacent buckets are merged pairwise and the width doubles (the
 * counts stay exact), so the migration spans 64 to 128 buckets whatever
 * its length. Events that draw nothing (ticks, the untracked guest after
 * the resume) do not stretch the timeline.
 */

/** One wall-time bucket: what was sent and which exits were taken in [startNs, endNs). */
export interface TimelineBucket {
  readonly startNs: number;
  readonly endNs: number;
  readonly pagesSent: number;
  readonly bytesSent: number;
  /** Bytes sent since the migration started, up to the end of this bucket. */
  readonly cumulativeBytes: number;
  /** Per-vCPU exits and faults by run-event kind name (zero kinds left out). */
  readonly exitsByKind: Readonly<Record<string, number>>;
  /** vCPU time those exits stalled, summed over vCPUs. */
  readonly exitStallNs: number;
  /** exitStallNs over the vCPU time the bucket holds: the slowdown the exits caused. */
  readonly exitSlowdown: number;
}

/** Pages a CLEAN (or FINAL) reported, over the wall time since the previous one (or ENABLE). */
export interface DirtyRateSegment {
  readonly round: number;
  readonly startNs: number;
  readonly endNs: number;
  readonly dirtyPages: number;
  readonly pagesPerSec: number;
}

export interface RunTimeline {
  readonly bucketNs: number;
  readonly buckets: readonly TimelineBucket[];
  readonly dirtyRate: readonly DirtyRateSegment[];
  /** Wall time of the first suspend and of the resume after it; -1 when none. */
  readonly suspendNs: number;
  readonly resumeNs: number;
  /** Where the timeline ends: the migration's end, or its last exit or transfer if later. */
  readonly endNs: number;
  readonly runEvents: number;
  readonly exitEvents: number;
}

/** Everything a report shows about one migration. */
export interface RunReport {
  /** The file it came from, or the tracker in a comparison. */
  readonly label: string;
  readonly header: TraceHeader;
  readonly spec: RunSpec;
  readonly summary: MigrationSummary;
  readonly timeline: RunTimeline;
}

/** How many buckets a timeline keeps at most (it merges pairs past that). */
export const MAX_TIMELINE_BUCKETS = 128;
const MIN_BUCKET_NS = 100_000;
const KIND_SLOTS = 256;

/**
 * Folds run batches into a RunTimeline. Pages-sent events carry the pages
 * in `arg` and their time on the wire in `costNs`, so the bytes are that
 * time at the link's bandwidth, spread over the buckets the transfer
 * spans; CLEAN and FINAL carry the dirty count (as does the round end).
 */
class TimelineCollector {
  private bucketNs: number;
  private readonly pages = new Float64Array(MAX_TIMELINE_BUCKETS);
  private readonly bytes = new Float64Array(MAX_TIMELINE_BUCKETS);
  private readonly stall = new Float64Array(MAX_TIMELINE_BUCKETS);
  private readonly exits = new Float64Array(MAX_TIMELINE_BUCKETS * KIND_SLOTS);
  private readonly segments: DirtyRateSegment[] = [];
  private lastCleanNs = -1;
  private round = 0;
  private suspendNs = -1;
  private resumeNs = -1;
  private endNs = 0;
  private runEvents = 0;
  private exitEvents = 0;

  constructor(
    private readonly vcpus: number,
    private readonly bandwidthBytesPerSec: number,
  ) {
    this.bucketNs = MIN_BUCKET_NS;
  }

  add(b: RunBatch): void {
    let t = b.baseNs;
    const { kind, dtNs, vcpu, page, arg } = b;
    for (let i = 0; i < b.count; i++) {
      t += dtNs[i]!;
      const k = kind[i]!;
      if (vcpu[i] !== NO_VCPU) {
        const slot = this.slot(t);
        this.exits[slot * KIND_SLOTS + k]++;
        this.stall[slot] += runEventCostNs(b, i);
        this.exitEvents++;
        continue;
      }
      switch (k) {
        case RunEventKind.pagesSent: {
          const wireNs = runEventCostNs(b, i);
          this.pages[this.slot(t)] += arg[i]!;
          this.spreadBytes(t, wireNs, (wireNs * this.bandwidthBytesPerSec) / 1e9);
          break;
        }
        case RunEventKind.logdirtyEnable:
          if (this.lastCleanNs < 0) this.lastCleanNs = t;
          break;
        case RunEventKind.clean:
        case RunEventKind.final:
          this.cleaned(t, arg[i]!);
          this.slot(t);
          break;
        case RunEventKind.roundStart:
          this.round = page[i]!;
          break;
        case RunEventKind.suspend:
          if (this.suspendNs < 0) this.suspendNs = t;
          this.slot(t);
          break;
        case RunEventKind.resume:
          if (this.resumeNs < 0) this.resumeNs = t;
          this.slot(t);
          break;
        default:
          break;
      }
    }
    this.runEvents += b.count;
  }

  /**
   * The timeline, with the bytes the events do not carry (vCPU and device
   * state, Remus epochs) added where they went: at resume, or at the end.
   */
  finish(summary: MigrationSummary): RunTimeline {
    // The timeline covers the migration (and the exits around it), not the
    // rest of the workload: after the resume the guest runs untracked.
    const endNs = Math.max(this.endNs, summary.startNs + summary.totalNs);
    const last = this.slot(Math.max(endNs - 1, 0));
    const seen = this.bytes.reduce((a, v) => a + v, 0);
    const rest = summary.bytesSent - seen;
    if (rest > 0.5) {
      const at = this.resumeNs >= 0 ? this.resumeNs : Math.max(endNs - 1, 0);
      this.bytes[Math.min(Math.floor(at / this.bucketNs), last)] += rest;
    }
    const buckets: TimelineBucket[] = [];
    let cumulative = 0;
    for (let s = 0; s <= last; s++) {
      cumulative += this.bytes[s]!;
      const exitsByKind: Record<string, number> = {};
      for (let k = 0; k < KIND_SLOTS; k++) {
        const c = this.exits[s * KIND_SLOTS + k]!;
        if (c > 0) exitsByKind[RUN_EVENT_KIND_NAMES[k] ?? `kind_${k}`] = c;
      }
      const startNs = s * this.bucketNs;
      buckets.push({
        startNs,
        endNs: startNs + this.bucketNs,
        pagesSent: this.pages[s]!,
        bytesSent: this.bytes[s]!,
        cumulativeBytes: cumulative,
        exitsByKind,
        exitStallNs: this.stall[s]!,
        exitSlowdown: this.stall[s]! / (this.bucketNs * Math.max(this.vcpus, 1)),
      });
    }
    return {
      bucketNs: this.bucketNs,
      buckets,
      dirtyRate: this.segments,
      suspendNs: this.suspendNs,
      resumeNs: this.resumeNs,
      endNs,
      runEvents: this.runEvents,
      exitEvents: this.exitEvents,
    };
  }

  /**
   * A CLEAN or FINAL reports the pages dirtied since the previous one (or
   * since ENABLE): their rate over that wall time. Remus epochs are FINALs
   * too, so their rate continues after the resume.
   */
  private cleaned(t: number, dirtyPages: number): void {
    if (this.lastCleanNs >= 0 && t > this.lastCleanNs) {
      this.segments.push({ round: this.round, startNs: this.lastCleanNs, endNs: t, dirtyPages, pagesPerSec: (dirtyPages * 1e9) / (t - this.lastCleanNs) });
    }
    this.lastCleanNs = t;
  }

  /** Bytes on the wire from t for durNs, shared among the buckets the transfer spans. */
  private spreadBytes(t: number, durNs: number, bytes: number): void {
    if (durNs <= 0) {
      this.bytes[this.slot(t)] += bytes;
      return;
    }
    this.slot(t + durNs); // widen first, so the loop below sees final widths
    const end = t + durNs;
    for (let a = t; a < end; ) {
      const s = Math.floor(a / this.bucketNs);
      const b = Math.min(end, (s + 1) * this.bucketNs);
      this.bytes[s] += (bytes * (b - a)) / durNs;
      a = b;
    }
  }

  private slot(t: number): number {
    if (t > this.endNs) this.endNs = t;
    const s = Math.floor(t / this.bucketNs);
    return s < MAX_TIMELINE_BUCKETS ? s : this.widen(t);
  }

  /** Doubles the bucket width until wall time `t` fits; returns its bucket. */
  private widen(t: number): number {
    while (Math.floor(t / this.bucketNs) >= MAX_TIMELINE_BUCKETS) {
      const half = MAX_TIMELINE_BUCKETS / 2;
      for (let s = 0; s < half; s++) {
        this.pages[s] = this.pages[2 * s]! + this.pages[2 * s + 1]!;
        this.bytes[s] = this.bytes[2 * s]! + this.bytes[2 * s + 1]!;
        this.stall[s] = this.stall[2 * s]! + this.stall[2 * s + 1]!;
        for (let k = 0; k < KIND_SLOTS; k++) this.exits[s * KIND_SLOTS + k] = this.exits[2 * s * KIND_SLOTS + k]! + this.exits[(2 * s + 1) * KIND_SLOTS + k]!;
      }
      this.pages.fill(0, half);
      this.bytes.fill(0, half);
      this.stall.fill(0, half);
      this.exits.fill(0, half * KIND_SLOTS);
      this.bucketNs *= 2;
    }
    return Math.floor(t / this.bucketNs);
  }
}

/**
 * Reads a run trace (written by `migsim run --record`) in one streaming
 * pass: its header, its run events folded into a timeline, and the summary
 * in its footer. `onProgress` gets the share of guest time read so far.
 */
export function runReportFromTrace(file: string, onProgress?: (fraction: number) => void): RunReport {
  const { reader, header, spec } = openRunTrace(file, 'record a run trace with:');
  const collector = new TimelineCollector(header.guest.vcpus, spec.migration.bandwidthBytesPerSec);
  const fold = new SummaryFold(migrationSummarySpec(header, spec));
  const share = guestTimeShare(header);
  const footer = reader.forEachChunk((c) => {
    if (c.stream === 'run') {
      collector.add(c.batch);
      fold.add(c.batch);
    } else onProgress?.(share(c.batch.endNs));
  });
  const summary = footerSummary(file, footer, fold);
  return { label: file, header, spec, summary, timeline: collector.finish(summary) };
}

/**
 * The same guest events migrated under each tracker (compareTrackers),
 * keeping each run's events as a timeline. `onProgress` gets the runs done
 * (fractional: 1.5 is halfway through the second).
 */
export function compareRunReports(
  source: GuestSource,
  trackers: readonly TrackerName[],
  opts: Omit<MigrationRunOptions, 'tracker'>,
  onProgress?: (runsDone: number) => void,
): RunReport[] {
  const h = source.header;
  const share = guestTimeShare(h);
  // By run, not by tracker: a tracker listed twice has two runs.
  const specs = trackers.map((t) => runSpec({ ...opts, tracker: t }, h));
  const collectors = specs.map((spec) => new TimelineCollector(h.guest.vcpus, spec.migration.bandwidthBytesPerSec));
  let done = 0;
  const watched: GuestSource = onProgress ? { ...source, events: () => source.events().pipe(tap((b) => onProgress(done + share(b.endNs)))) } : source;
  const { summaries } = compareTrackers(watched, trackers, opts, {
    onRunBatch: (_t, b, run) => collectors[run]!.add(b),
    onEach: () => done++,
  });
  return trackers.map((tracker, i) => {
    const spec = specs[i]!;
    const summary = summaries[i]!;
    return { label: tracker, header: { ...h, traceKind: 'run', run: { ...spec } }, spec, summary, timeline: collectors[i]!.finish(summary) };
  });
}
