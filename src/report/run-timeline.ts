import type { RunSpec } from '../api/record-run.js';
import type { MigrationSummary } from '../api/run-migration.js';
import { NO_VCPU } from '../events/guest-event-kind.js';
import type { RunBatch } from '../events/run-batch.js';
import { runEventCostNs } from '../events/run-cost.js';
import { RUN_EVENT_KIND_NAMES, RunEventKind } from '../events/run-event-kind.js';
import { QEMU_WINDOW_NS } from '../reducers/migration/migration-options.js';
import { collectionOriginNs, migrationMarginNs, type ReportWindow } from './report-window.js';
import { KIND_SLOTS, TimelineBuckets } from './timeline-buckets.js';

/**
 * What a report draws over time for one run, folded from its run events as
 * they stream past (plus the summary fold's figures at the end), so a run
 * of millions of exits takes a few kilobytes here. Nothing is taken from
 * the simulation's state: every series is what the run events say.
 *
 * Two sets of buckets are kept: the window's (by default the migration,
 * from the enable to the resume, with a margin) and the whole run's, drawn
 * as a small overview strip. Log-dirty operations and transfers are kept as
 * marks, up to a bound.
 */

/** One wall-time bucket of the window: what was sent and which exits were taken in [startNs, endNs). */
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
  /** Post-copy: faults on pages not yet received, and the vCPU time they waited. */
  readonly postcopyFaults: number;
  readonly postcopyWaitNs: number;
}

/** A bucket of the whole run, for the overview strip. */
export interface OverviewBucket {
  readonly startNs: number;
  readonly endNs: number;
  readonly exits: number;
  readonly bytesSent: number;
}

/** Pages a CLEAN (or FINAL) reported, over the wall time since the previous one (or ENABLE). */
export interface DirtyRateSegment {
  readonly round: number;
  readonly startNs: number;
  readonly endNs: number;
  readonly dirtyPages: number;
  readonly pagesPerSec: number;
}

/** A log-dirty operation: ENABLE, PEEK, CLEAN (a sync) or FINAL, with the dirty count it reported. */
export interface SyncMark {
  readonly atNs: number;
  readonly kind: string;
  readonly dirtyPages: number;
  readonly costNs: number;
}

/** QEMU: its switch-over threshold (bandwidth over a 100 ms window times downtime-limit), from the window's end. */
export interface ThresholdStep {
  readonly fromNs: number;
  readonly toNs: number;
  readonly bytes: number;
}

/** QEMU: pages still to send, at a time (after a sync, the most that can be known from the events). */
export interface RemainingPoint {
  readonly atNs: number;
  readonly bytes: number;
}

export interface MigrationTimes {
  /** Wall time of the first log-dirty ENABLE, the first suspend, the resume after it; -1 when none. */
  readonly enableNs: number;
  readonly suspendNs: number;
  readonly resumeNs: number;
  /** Where the migration ended: its completion (post-copy's last page, Remus's last epoch), or the run's end. */
  readonly endNs: number;
}

export interface RunTimeline {
  /** The stretch of wall time the timelines draw. */
  readonly window: { readonly startNs: number; readonly endNs: number };
  readonly migration: MigrationTimes;
  readonly bucketNs: number;
  /** The window's buckets (those that overlap it). */
  readonly buckets: readonly TimelineBucket[];
  readonly overview: { readonly bucketNs: number; readonly endNs: number; readonly buckets: readonly OverviewBucket[] };
  readonly dirtyRate: readonly DirtyRateSegment[];
  readonly syncs: readonly SyncMark[];
  /** Log-dirty operations beyond MAX_MARKS, not kept as marks. */
  readonly syncsLeftOut: number;
  readonly threshold: readonly ThresholdStep[];
  readonly remaining: readonly RemainingPoint[];
  readonly runEvents: number;
  readonly exitEvents: number;
}

/** Marks kept per run (log-dirty operations; transfers for QEMU's figures). */
const MAX_MARKS = 20_000;
const MAX_SENDS = 200_000;
const PAGE_BYTES = 4096;

export class RunTimelineCollector {
  private readonly win: TimelineBuckets;
  private readonly all = new TimelineBuckets(0);
  private readonly segments: DirtyRateSegment[] = [];
  private readonly syncs: SyncMark[] = [];
  private syncsLeftOut = 0;
  /** Transfers (start, wire time, pages), for QEMU's threshold and remaining estimate. */
  private readonly sends: number[] = [];
  private pageBytes = 0;
  private bytesBeforeOrigin = 0;
  private lastCleanNs = -1;
  private round = 0;
  private enableNs = -1;
  private enableCostNs = 0;
  private suspendNs = -1;
  private resumeNs = -1;
  private runEvents = 0;
  private exitEvents = 0;
  private readonly bandwidth: number;
  /** Post-copy and Remus run on after the resume: their window's end is known only at the end. */
  private readonly endsAtResume: boolean;

  constructor(
    private readonly window: ReportWindow,
    private readonly spec: RunSpec,
    private readonly vcpus: number,
    private readonly guestDurationNs: number,
    private readonly memPages: number,
  ) {
    this.win = new TimelineBuckets(collectionOriginNs(window, spec.migration.startNs, guestDurationNs));
    if (window.kind === 'range') {
      this.win.endAt(window.toNs);
      this.win.reach(window.toNs);
    }
    this.bandwidth = spec.migration.bandwidthBytesPerSec;
    this.endsAtResume = window.kind === 'migration' && spec.migration.policy !== 'postcopy' && spec.migration.policy !== 'remus';
  }

  add(b: RunBatch): void {
    let t = b.baseNs;
    const { kind, dtNs, vcpu, page, arg } = b;
    const win = this.win;
    const all = this.all;
    for (let i = 0; i < b.count; i++) {
      t += dtNs[i]!;
      const k = kind[i]!;
      if (vcpu[i] !== NO_VCPU) {
        const cost = runEventCostNs(b, i);
        const a = all.slot(t);
        all.exits[a * KIND_SLOTS + k]++;
        const s = win.slot(t);
        if (s >= 0) {
          win.exits[s * KIND_SLOTS + k]++;
          win.stall[s] += cost;
          if (k === RunEventKind.postcopyFault) win.faultWaitNs[s] += cost;
        }
        this.exitEvents++;
        continue;
      }
      switch (k) {
        case RunEventKind.pagesSent: {
          const wireNs = runEventCostNs(b, i);
          const bytes = (wireNs * this.bandwidth) / 1e9;
          this.pageBytes += bytes;
          if (t + wireNs <= win.originNs) this.bytesBeforeOrigin += bytes;
          win.spread(win.pages, t, wireNs, arg[i]!);
          win.spread(win.bytes, t, wireNs, bytes);
          all.spread(all.bytes, t, wireNs, bytes);
          if (this.sends.length < MAX_SENDS * 3) this.sends.push(t, wireNs, arg[i]!);
          break;
        }
        case RunEventKind.logdirtyEnable:
          if (this.enableNs < 0) {
            this.enableNs = t;
            this.enableCostNs = runEventCostNs(b, i);
          }
          if (this.lastCleanNs < 0) this.lastCleanNs = t;
          this.mark(t, k, 0, runEventCostNs(b, i));
          break;
        case RunEventKind.peek:
          this.mark(t, k, arg[i]!, runEventCostNs(b, i));
          break;
        case RunEventKind.clean:
        case RunEventKind.final:
          this.cleaned(t, arg[i]!);
          this.mark(t, k, arg[i]!, runEventCostNs(b, i));
          win.slot(t);
          break;
        case RunEventKind.roundStart:
          this.round = page[i]!;
          win.slot(t);
          break;
        case RunEventKind.roundEnd:
        case RunEventKind.checkpointEpoch:
          win.slot(t);
          all.slot(t);
          break;
        case RunEventKind.suspend:
          if (this.suspendNs < 0) this.suspendNs = t;
          win.slot(t);
          break;
        case RunEventKind.resume:
          if (this.resumeNs < 0) {
            this.resumeNs = t;
            win.slot(t);
            all.slot(t);
            // The rest of the run is the guest on the destination: past the
            // margin, nothing more belongs to the migration window.
            if (this.endsAtResume && this.enableNs >= 0) win.endAt(t + migrationMarginNs(t - this.enableNs) + 1);
          }
          break;
        default:
          break;
      }
    }
    this.runEvents += b.count;
  }

  /**
   * The timeline, with the bytes the page events do not carry added where
   * they went: Remus's checkpoints at their epochs, vCPU and device state at
   * the resume (or the end).
   */
  finish(summary: MigrationSummary): RunTimeline {
    const completedNs = summary.startNs + summary.totalNs;
    const endNs = Math.max(completedNs, this.resumeNs, this.suspendNs);
    let epochBytes = 0;
    for (const e of summary.epochs) {
      epochBytes += e.bytesSent;
      this.win.spread(this.win.bytes, e.atNs, 0, e.bytesSent);
      this.all.spread(this.all.bytes, e.atNs, 0, e.bytesSent);
    }
    const rest = summary.bytesSent - this.pageBytes - epochBytes;
    if (rest > 0.5) {
      const at = this.resumeNs >= 0 ? this.resumeNs : Math.max(endNs - 1, 0);
      this.win.spread(this.win.bytes, at, 0, rest);
      this.all.spread(this.all.bytes, at, 0, rest);
    }
    const window = this.drawnWindow(endNs);
    this.win.reach(window.endNs);
    const migration = { enableNs: this.enableNs, suspendNs: this.suspendNs, resumeNs: this.resumeNs, endNs };
    return {
      window,
      migration,
      bucketNs: this.win.bucketNs,
      buckets: this.windowBuckets(window),
      overview: this.overview(endNs),
      dirtyRate: this.segments,
      syncs: this.syncs,
      syncsLeftOut: this.syncsLeftOut,
      threshold: this.spec.migration.policy === 'qemu' ? this.qemuThreshold() : [],
      remaining: this.spec.migration.policy === 'qemu' ? this.qemuRemaining(summary) : [],
      runEvents: this.runEvents,
      exitEvents: this.exitEvents,
    };
  }

  private drawnWindow(endNs: number): { startNs: number; endNs: number } {
    const w = this.window;
    if (w.kind === 'range') return { startNs: w.fromNs, endNs: w.toNs };
    if (w.kind === 'all') return { startNs: 0, endNs: Math.max(endNs, this.all.lastNs, 1) };
    if (this.enableNs < 0) return { startNs: this.win.originNs, endNs: Math.max(this.win.lastNs, this.win.originNs + 1) };
    const margin = migrationMarginNs(endNs - this.enableNs);
    return { startNs: Math.max(this.win.originNs, this.enableNs - margin), endNs: endNs + margin };
  }

  private windowBuckets(window: { startNs: number; endNs: number }): TimelineBucket[] {
    const w = this.win;
    const out: TimelineBucket[] = [];
    let cumulative = this.bytesBeforeOrigin;
    for (let s = 0; s * w.bucketNs + w.originNs < window.endNs && s < w.pages.length; s++) {
      const startNs = w.originNs + s * w.bucketNs;
      cumulative += w.bytes[s]!;
      if (startNs + w.bucketNs <= window.startNs) continue;
      const exitsByKind: Record<string, number> = {};
      for (let k = 0; k < KIND_SLOTS; k++) {
        const c = w.exits[s * KIND_SLOTS + k]!;
        if (c > 0) exitsByKind[RUN_EVENT_KIND_NAMES[k] ?? `kind_${k}`] = c;
      }
      out.push({
        startNs,
        endNs: startNs + w.bucketNs,
        pagesSent: w.pages[s]!,
        bytesSent: w.bytes[s]!,
        cumulativeBytes: cumulative,
        exitsByKind,
        exitStallNs: w.stall[s]!,
        exitSlowdown: w.stall[s]! / (w.bucketNs * Math.max(this.vcpus, 1)),
        postcopyFaults: w.exits[s * KIND_SLOTS + RunEventKind.postcopyFault]!,
        postcopyWaitNs: w.faultWaitNs[s]!,
      });
    }
    return out;
  }

  private overview(endNs: number): RunTimeline['overview'] {
    const a = this.all;
    const last = Math.max(endNs, a.lastNs, this.guestDurationNs);
    a.reach(last);
    const buckets: OverviewBucket[] = [];
    for (let s = 0; s * a.bucketNs < last && s < a.pages.length; s++) {
      let exits = 0;
      for (let k = 0; k < KIND_SLOTS; k++) exits += a.exits[s * KIND_SLOTS + k]!;
      buckets.push({ startNs: s * a.bucketNs, endNs: (s + 1) * a.bucketNs, exits, bytesSent: a.bytes[s]! });
    }
    return { bucketNs: a.bucketNs, endNs: last, buckets };
  }

  /**
   * QEMU's switch-over threshold as migration_update_counters sets it: the
   * bytes sent over each 100 ms window (from the end of the setup sync),
   * per second, times downtime-limit; it holds from the window's end until
   * the next one closes. QEMU closes a window at its first check after the
   * 100 ms, so a window here can end a transfer earlier than QEMU's.
   */
  private qemuThreshold(): ThresholdStep[] {
    if (this.enableNs < 0) return [];
    const from = this.enableNs + this.enableCostNs;
    const end = this.suspendNs >= 0 ? this.suspendNs : this.win.lastNs;
    const windows = Math.max(0, Math.ceil((end - from) / QEMU_WINDOW_NS));
    const bytes = new Float64Array(windows + 1);
    const s = this.sends;
    for (let i = 0; i < s.length; i += 3) {
      const t = s[i]!;
      const d = s[i + 1]!;
      const b = (d * this.bandwidth) / 1e9;
      if (d <= 0) {
        const w = Math.floor((t - from) / QEMU_WINDOW_NS);
        if (w >= 0 && w < windows) bytes[w] += b;
        continue;
      }
      for (let a = Math.max(t, from); a < t + d; ) {
        const w = Math.floor((a - from) / QEMU_WINDOW_NS);
        const e = Math.min(t + d, from + (w + 1) * QEMU_WINDOW_NS);
        if (w >= windows) break;
        bytes[w] += (b * (e - a)) / d;
        a = e;
      }
    }
    const out: ThresholdStep[] = [];
    const limitNs = this.spec.migration.downtimeLimitNs;
    for (let w = 0; w < windows; w++) {
      const fromNs = from + (w + 1) * QEMU_WINDOW_NS;
      if (fromNs >= end) break;
      out.push({ fromNs, toNs: Math.min(fromNs + QEMU_WINDOW_NS, end), bytes: (bytes[w]! / (QEMU_WINDOW_NS / 1e9)) * (limitNs / 1e9) });
    }
    return out;
  }

  /**
   * QEMU's pending bytes (ram_bytes_remaining) as far as the events tell:
   * all of memory at the setup sync, less each transfer as it ends; at each
   * later sync the pages it found dirty join those still pending. Which of
   * them were pending already the events do not say, so after a sync the
   * figure is the larger of the two: a lower bound, exact until the first.
   */
  private qemuRemaining(summary: MigrationSummary): RemainingPoint[] {
    if (this.enableNs < 0) return [];
    const end = this.suspendNs >= 0 ? this.suspendNs : Infinity;
    const syncs = summary.rounds.filter((r) => r.endNs < end && r.dirtyPages >= 0).map((r) => ({ atNs: r.endNs, dirty: r.dirtyPages }));
    const out: RemainingPoint[] = [{ atNs: this.enableNs, bytes: this.memPages * PAGE_BYTES }];
    let pending = this.memPages;
    let j = 0;
    const s = this.sends;
    for (let i = 0; i <= s.length; i += 3) {
      const t = i < s.length ? s[i]! + s[i + 1]! : Infinity;
      while (j < syncs.length && syncs[j]!.atNs <= (i < s.length ? s[i]! : Infinity)) {
        pending = Math.max(pending, syncs[j]!.dirty);
        out.push({ atNs: syncs[j]!.atNs, bytes: pending * PAGE_BYTES });
        j++;
      }
      if (i >= s.length || s[i]! >= end) break;
      pending = Math.max(0, pending - s[i + 2]!);
      out.push({ atNs: t, bytes: pending * PAGE_BYTES });
    }
    return out;
  }

  private mark(t: number, k: number, dirtyPages: number, costNs: number): void {
    if (this.syncs.length >= MAX_MARKS) {
      this.syncsLeftOut++;
      return;
    }
    this.syncs.push({ atNs: t, kind: RUN_EVENT_KIND_NAMES[k]!, dirtyPages, costNs });
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
}
