import { guestTimeShare } from '../api/guest-time-share.js';
import { type MigrationSummary, migrationSummarySpec } from '../api/run-migration.js';
import { SummaryFold } from '../reducers/summary.js';
import { NO_VCPU } from '../events/guest-event-kind.js';
import { runEventCostNs } from '../events/run-cost.js';
import { RUN_EVENT_KIND_NAMES, RunEventKind } from '../events/run-event-kind.js';
import { KVM_TRACKERS } from '../reducers/tracker.js';
import { AtomicFile } from '../util/atomic-write.js';
import { PROGRAM_NAME, PROGRAM_VERSION } from '../version.js';
import { footerSummary } from './footer-summary.js';
import { openRunTrace } from './open-run-trace.js';
import { DEFAULT_MAX_EXIT_SLICES_PER_VCPU } from './perfetto-defaults.js';

export { DEFAULT_MAX_EXIT_SLICES_PER_VCPU };

/**
 * Exports a run trace as a timeline in the Chrome trace event format (a
 * JSON object with `traceEvents`), which ui.perfetto.dev and
 * chrome://tracing open. Times are microseconds, as the format wants.
 *
 * Tracks (one process, one thread per track):
 * - phases: the live pre-copy, the downtime (one slice from suspend to
 *   resume, as long as the summary's downtime), post-copy, Remus epochs;
 * - rounds: one slice per migration round, with its pages and dirty count;
 * - log-dirty and state: ENABLE, PEEK, CLEAN, FINAL, suspend, resume and
 *   canonicalisation, each as long as its cost;
 * - link: each batch of pages on the wire;
 * - one track per vCPU: its exits and faults as slices of their cost, and
 *   the domain-wide pauses that stalled it;
 * - counters: pages dirty at each CLEAN, pages and bytes sent so far, exits
 *   per vCPU per counter bucket, the throttle.
 *
 * The trace is streamed: memory stays bounded whatever its length. A run
 * can take millions of exits, more than a timeline viewer can hold, so the
 * slices are spent on the migration: each vCPU's first
 * `maxExitSlicesPerVcpu` exits from the migration's start on are slices
 * (a guest that booted for seconds before would otherwise use them all up
 * before the ENABLE), and every exit, before or after, is counted in the
 * per-vCPU counters; a metadata event says how many exits became slices.
 * The downtime slice holds its parts (suspend, final clean, final pages,
 * canonicalisation, state, resume) as nested slices, in the order they run. The file is written atomically (src/util/atomic-write.ts:
 * to a temporary of its own beside OUT, renamed at the end).
 */

export interface PerfettoExportOptions {
  /** Exits drawn as slices per vCPU (default 10,000); the rest only in the counters. */
  readonly maxExitSlicesPerVcpu?: number;
  /** Width of the per-vCPU exit counters' buckets (default: 1 ms, or wider for runs over 2 s). */
  readonly counterBucketNs?: number;
  /** Share of the trace's guest time read so far. */
  readonly onProgress?: (fraction: number) => void;
}

export interface PerfettoExportResult {
  readonly traceEvents: number;
  readonly rounds: number;
  readonly exits: number;
  readonly exitSlices: number;
  readonly downtimeNs: number;
  readonly outcome: string;
  readonly stopReason: string;
  readonly fileBytes: number;
}

const MAX_DIVERGENCE_MARKS = 100;

const PID = 1;
const TID_PHASES = 1;
const TID_ROUNDS = 2;
const TID_OPS = 3;
const TID_LINK = 4;
const TID_SYNC = 5;
const TID_VCPU0 = 10;

/** Domain-wide events whose cost pauses every vCPU (DESIGN section 4). */
const PAUSES: ReadonlySet<number> = new Set([RunEventKind.logdirtyEnable, RunEventKind.peek, RunEventKind.clean, RunEventKind.final, RunEventKind.off, RunEventKind.checkpointEpoch]);
/** Domain-wide operations drawn on the log-dirty and state track. */
const OPS: ReadonlySet<number> = new Set([
  RunEventKind.logdirtyEnable,
  RunEventKind.peek,
  RunEventKind.clean,
  RunEventKind.final,
  RunEventKind.off,
  RunEventKind.suspend,
  RunEventKind.canonicalise,
  RunEventKind.dirtyLogClear,
  RunEventKind.dirtyRingReap,
]);

type TraceEvent = Record<string, unknown>;

const us = (ns: number) => ns / 1000;

/** Appends JSON events to a file (written atomically) in large writes. */
class JsonEventWriter {
  private readonly file: AtomicFile;
  private parts: string[] = [];
  private partChars = 0;
  private first = true;
  count = 0;

  constructor(path: string) {
    this.file = new AtomicFile(path);
    this.raw(`{"displayTimeUnit":"ns","traceEvents":[\n`);
  }

  event(e: TraceEvent): void {
    this.raw((this.first ? '' : ',\n') + JSON.stringify(e));
    this.first = false;
    this.count++;
  }

  get bytes(): number {
    return this.file.bytesWritten;
  }

  /** Writes the end of the document and puts the file in place. */
  finish(otherData: Record<string, unknown>): void {
    this.raw(`\n],\n"otherData":${JSON.stringify(otherData)}}\n`);
    this.flush();
    this.file.commit();
  }

  abort(): void {
    this.file.abort();
  }

  private raw(s: string): void {
    this.parts.push(s);
    this.partChars += s.length;
    if (this.partChars > 1 << 20) this.flush();
  }

  private flush(): void {
    this.file.write(Buffer.from(this.parts.join(''), 'utf8'));
    this.parts = [];
    this.partChars = 0;
  }
}

/** Per-vCPU exit counters, one sample per bucket with exits, and a zero after a gap. */
class ExitCounter {
  private bucket = -1;
  private counts = new Map<string, number>();
  private readonly seen = new Set<string>();

  constructor(
    private readonly name: string,
    private readonly bucketNs: number,
    private readonly out: JsonEventWriter,
  ) {}

  add(tNs: number, kind: string): void {
    const b = Math.floor(tNs / this.bucketNs);
    if (b !== this.bucket) this.advance(b);
    this.counts.set(kind, (this.counts.get(kind) ?? 0) + 1);
    this.seen.add(kind);
  }

  finish(): void {
    this.advance(this.bucket + 2);
  }

  private advance(next: number): void {
    if (this.bucket >= 0) {
      this.sample(this.bucket, this.counts);
      if (next > this.bucket + 1) this.sample(this.bucket + 1, new Map());
    }
    this.bucket = next;
    this.counts = new Map();
  }

  private sample(bucket: number, counts: Map<string, number>): void {
    const args: Record<string, number> = {};
    for (const k of this.seen) args[k] = counts.get(k) ?? 0;
    this.out.event({ name: this.name, ph: 'C', pid: PID, ts: us(bucket * this.bucketNs), args });
  }
}

/** The downtime's parts in the order they run, named as the report names them. */
function downtimeParts(summary: MigrationSummary | undefined): [string, number][] {
  const d = summary?.downtime;
  if (!d) return [];
  return [
    ['suspend', d.suspendNs],
    ['final clean', d.finalCleanNs],
    ['final pages', d.finalPagesNs],
    ['canonicalisation', d.canonicaliseNs],
    ['vCPU/device state', d.stateNs],
    ['resume', d.resumeNs],
  ];
}

export function exportPerfetto(file: string, out: string, opts: PerfettoExportOptions = {}): PerfettoExportResult {
  const { reader, header: h, spec } = openRunTrace(file, 'export a run trace:');
  const vcpus = h.guest.vcpus;
  const cap = opts.maxExitSlicesPerVcpu ?? DEFAULT_MAX_EXIT_SLICES_PER_VCPU;
  const durationNs = Math.max(h.workload.durationNs, 1);
  const bucketNs = opts.counterBucketNs ?? Math.max(1_000_000, Math.ceil(durationNs / 2000 / 1_000_000) * 1_000_000);
  const bandwidth = spec.migration.bandwidthBytesPerSec;
  const share = guestTimeShare(h);
  // Exits become slices from the migration's start (its ENABLE) on.
  const slicesFromNs = spec.migration.startNs;
  const w = new JsonEventWriter(out);
  try {
    const meta = (tid: number, name: string, sort: number) => {
      w.event({ name: 'thread_name', ph: 'M', pid: PID, tid, args: { name } });
      w.event({ name: 'thread_sort_index', ph: 'M', pid: PID, tid, args: { sort_index: sort } });
    };
    w.event({ name: 'process_name', ph: 'M', pid: PID, args: { name: `${PROGRAM_NAME}: ${h.workload.name} under ${spec.tracker}, ${spec.migration.policy} policy (seed ${h.workload.seed})` } });
    const kvm = KVM_TRACKERS.includes(spec.tracker);
    meta(TID_PHASES, 'migration phases', 0);
    meta(TID_ROUNDS, 'rounds', 1);
    meta(TID_OPS, 'log-dirty and state', 2);
    meta(TID_LINK, 'link: pages on the wire', 3);
    meta(TID_SYNC, 'migration thread: bitmap syncs', 4);
    for (let v = 0; v < vcpus; v++) meta(TID_VCPU0 + v, `vCPU ${v}`, 10 + v);

    // A track's slices must not overlap; run events of different vCPUs are
    // clamped to one monotonic clock, which can push one a little past the
    // next on the same track, so a slice starts no earlier than the last ended.
    const trackEnd = new Map<number, number>();
    const slice = (tid: number, name: string, tsNs: number, durNs: number, args?: Record<string, unknown>) => {
      const start = Math.max(tsNs, trackEnd.get(tid) ?? 0);
      trackEnd.set(tid, start + durNs);
      w.event({ name, ph: 'X', pid: PID, tid, ts: us(start), dur: us(durNs), ...(args ? { args } : {}) });
    };
    const counter = (name: string, tsNs: number, args: Record<string, number>) => w.event({ name, ph: 'C', pid: PID, ts: us(tsNs), args });

    const exitCounters = Array.from({ length: vcpus }, (_, v) => new ExitCounter(`vCPU ${v} exits per ${bucketNs / 1e6} ms`, bucketNs, w));
    const exitSlices = new Array<number>(vcpus).fill(0);
    let exits = 0;
    let rounds = 0;
    const roundStart = new Map<number, number>();
    let roundPages = 0;
    let firstRoundNs = -1;
    let suspendNs = -1;
    let resumeNs = -1;
    let lastRoundEndNs = -1;
    let pagesSent = 0;
    let bytesSent = 0;
    let divergences = 0;
    counter('dirty pages (at each CLEAN)', 0, { pages: 0 });
    counter('sent so far', 0, { pages: 0, bytes: 0 });

    const fold = new SummaryFold(migrationSummarySpec(h, spec));
    reader.forEachChunk((c) => {
      if (c.stream === 'guest') {
        opts.onProgress?.(share(c.batch.endNs));
        return;
      }
      fold.add(c.batch);
      const { kind, dtNs, vcpu, page, arg } = c.batch;
      let t = c.batch.baseNs;
      for (let i = 0; i < c.batch.count; i++) {
        t += dtNs[i]!;
        const k = kind[i]!;
        const name = RUN_EVENT_KIND_NAMES[k] ?? `kind_${k}`;
        const v = vcpu[i]!;
        const cost = runEventCostNs(c.batch, i);
        if (v !== NO_VCPU) {
          exits++;
          if (v < vcpus) {
            exitCounters[v]!.add(t, name);
            if (t >= slicesFromNs && exitSlices[v]! < cap) {
              exitSlices[v]!++;
              slice(TID_VCPU0 + v, name, t, cost, { pfn: page[i]!, arg: arg[i]! });
            }
          }
          continue;
        }
        const suspended = suspendNs >= 0 && resumeNs < 0;
        if (OPS.has(k)) slice(TID_OPS, name, t, cost, { arg: arg[i]! });
        // KVM's ioctls run on QEMU's threads beside the vCPUs: only Xen's domctls (and OFF, a memslot update under KVM too) pause them.
        if (PAUSES.has(k) && cost > 0 && !suspended && !(kvm && k !== RunEventKind.off)) for (let u = 0; u < vcpus; u++) slice(TID_VCPU0 + u, `paused: ${name}`, t, cost);
        switch (k) {
          case RunEventKind.roundStart:
            roundStart.set(page[i]!, t);
            roundPages = 0;
            if (firstRoundNs < 0) firstRoundNs = t;
            break;
          case RunEventKind.roundEnd: {
            const start = roundStart.get(page[i]!) ?? t;
            roundStart.delete(page[i]!);
            slice(TID_ROUNDS, `round ${page[i]!}`, start, t - start, { round: page[i]!, pagesSent: roundPages, dirtyPagesAtEnd: arg[i]! });
            rounds++;
            lastRoundEndNs = t;
            if (resumeNs < 0) counter('dirty pages (at each CLEAN)', t, { pages: arg[i]! });
            break;
          }
          case RunEventKind.pagesSent: {
            const bytes = Math.floor((cost * bandwidth) / 1e9);
            roundPages += arg[i]!;
            pagesSent += arg[i]!;
            bytesSent += bytes;
            slice(TID_LINK, `send ${arg[i]!} pages`, t, cost, { pages: arg[i]!, bytes });
            counter('sent so far', t + cost, { pages: pagesSent, bytes: bytesSent });
            break;
          }
          case RunEventKind.suspend:
            if (suspendNs < 0) {
              suspendNs = t;
              if (firstRoundNs >= 0 && t > firstRoundNs) slice(TID_PHASES, 'live pre-copy', firstRoundNs, t - firstRoundNs);
            }
            break;
          case RunEventKind.resume:
            if (resumeNs < 0) resumeNs = t;
            slice(TID_OPS, 'resume', Math.max(t - cost, 0), cost);
            break;
          case RunEventKind.checkpointEpoch:
            slice(TID_PHASES, `checkpoint ${page[i]!}`, t, cost, { dirtyPages: arg[i]! });
            break;
          case RunEventKind.bitmapSync:
            slice(TID_SYNC, 'bitmap_sync', t, cost, { dirtyPages: arg[i]! });
            break;
          case RunEventKind.throttle:
            counter('throttle (%)', t, { pct: arg[i]! });
            break;
          case RunEventKind.divergence:
            if (divergences++ < MAX_DIVERGENCE_MARKS) w.event({ name: 'divergence', ph: 'i', s: 'g', pid: PID, tid: TID_PHASES, ts: us(t), args: { pfn: page[i]!, lostPtes: arg[i]! } });
            break;
          default:
            break;
        }
      }
    });

    const summary: MigrationSummary | undefined = footerSummary(file, reader.footer, fold);
    const downtimeNs = summary?.downtimeNs ?? (suspendNs >= 0 && resumeNs >= 0 ? resumeNs - suspendNs : 0);
    if (suspendNs >= 0 && (resumeNs >= 0 || summary?.outcome === 'completed')) {
      // The one slice from suspend to resume: its length is the downtime the
      // summary reports, parts and all.
      w.event({ name: 'downtime (suspend → resume)', ph: 'X', pid: PID, tid: TID_PHASES, ts: us(suspendNs), dur: us(downtimeNs), args: { downtimeNs, ...(summary?.downtime ?? {}) } });
      // Its parts, nested in it, in the order they run (the last ends at the resume).
      let at = suspendNs;
      for (const [name, ns] of downtimeParts(summary)) {
        if (ns > 0 && at + ns <= suspendNs + downtimeNs) w.event({ name, ph: 'X', pid: PID, tid: TID_PHASES, ts: us(at), dur: us(ns) });
        at += ns;
      }
      for (let v = 0; v < vcpus; v++) {
        const start = Math.max(suspendNs, trackEnd.get(TID_VCPU0 + v) ?? 0);
        if (suspendNs + downtimeNs > start) w.event({ name: 'paused: downtime', ph: 'X', pid: PID, tid: TID_VCPU0 + v, ts: us(start), dur: us(suspendNs + downtimeNs - start) });
      }
      if (lastRoundEndNs > resumeNs && resumeNs >= 0) slice(TID_PHASES, 'post-copy', resumeNs, lastRoundEndNs - resumeNs);
    }
    for (const ec of exitCounters) ec.finish();
    const sliced = exitSlices.reduce((a, b) => a + b, 0);
    const exportInfo = {
      program: `${PROGRAM_NAME} ${PROGRAM_VERSION}`,
      source: file,
      workload: h.workload,
      tracker: spec.tracker,
      policy: spec.migration.policy,
      exits,
      exitSlices: sliced,
      maxExitSlicesPerVcpu: cap,
      exitSlicesFromNs: slicesFromNs,
      exitCounterBucketNs: bucketNs,
      exitsNote:
        sliced < exits
          ? `each vCPU's first ${cap} exits from the migration's start (${slicesFromNs / 1e9} s) on are slices; all ${exits} exits are counted in the 'vCPU N exits' counters (${bucketNs / 1e6} ms buckets)`
          : `every exit is a slice; the 'vCPU N exits' counters count them in ${bucketNs / 1e6} ms buckets`,
      divergencesMarked: Math.min(divergences, MAX_DIVERGENCE_MARKS),
      divergences,
      summary: summary ? { outcome: summary.outcome, stopReason: summary.stopReason, downtimeNs: summary.downtimeNs, totalNs: summary.totalNs, rounds: summary.rounds.length, pagesSent: summary.pagesSent, bytesSent: summary.bytesSent } : undefined,
    };
    w.event({ name: 'migsim_export', ph: 'M', pid: PID, args: exportInfo });
    w.finish(exportInfo);
    return { traceEvents: w.count, rounds, exits, exitSlices: sliced, downtimeNs, outcome: summary?.outcome ?? 'unknown', stopReason: summary?.stopReason ?? '', fileBytes: w.bytes };
  } catch (e) {
    w.abort();
    reader.close();
    throw e;
  }
}
