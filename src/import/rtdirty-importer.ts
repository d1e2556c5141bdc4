import { deriveStream } from '../random/derive-stream.js';
import type { Xoshiro128 } from '../random/xoshiro128.js';
import type { TraceHeader } from '../trace/trace-records.js';
import { workloadTraceHeader } from '../trace/workload-trace-header.js';
import type { CaptureFormat, CaptureReplay, ImportSetup } from './capture-format.js';
import type { GuestVpnMap } from './guest-vpn-map.js';
import { ImportError } from './import-error.js';
import type { ImportGuest, ImportSpace } from './import-guest.js';
import { type ImportOptions, type ImportResult, sourceIdentity } from './import-options.js';
import { ImportTrace } from './import-trace.js';
import { LineSplitter } from './line-reader.js';
import { RtdirtyScheduler } from './rtdirty-scheduler.js';
import { RtdirtyTickCheck } from './rtdirty-tick-check.js';
import { RtdirtyOp as Op, RtdirtyStream } from './rtdirty-stream.js';
import { runImport, runImportSync } from './run-import.js';
import type { SkippedLines } from './skipped-lines.js';
import { parseDecimalMicroText, parseRtdirtyHeader, RTDIRTY_MAJOR, type RtdirtyHeader, RtdirtyParseError, RtdirtyRecord, RtdirtyRecordKind as K } from './rtdirty-parser.js';

/**
 * `migsim import rtdirty`: a capture of real processes' dirty pages
 * (/work/shared/formats/rtdirty-v1.md) becomes a workload trace that any
 * tracker and policy can run, its processes replayed in a guest like any
 * built-in workload's (src/import/import-guest.ts).
 *
 * What each record becomes:
 *   P  a new guest process: fork() of its parent when the parent is in the
 *      capture (the child starts with its parent's pages, shared
 *      copy-on-write), else an empty address space (createProcess);
 *   B  the pages it had written before it was attached: faulted in and
 *      written at the B time (a forked child's pages that fork shares with
 *      its parent stay shared);
 *   D  one write to each page listed, spread evenly over the tick (from the
 *      previous tick's S time to this one's, or from the process's own
 *      P/E/B if later, and to its Z if sooner), in an order drawn from the
 *      seed: the capture says which pages, not in what order;
 *   E  exec(): a new, empty address space replaces the old one;
 *   Z  exit(): the address space is torn down (X alone does it when no Z
 *      came first);
 *   b/d the physical frames of the B/D line before them (position by
 *      position): a frame seen under pages of two processes, not shared by
 *      fork, becomes one guest frame (src/import/import-guest.ts);
 *   S  the end of a tick: its records are replayed.
 *
 * Time: `t` (ms since the capture started, a decimal) is guest time in
 * integer ns, exactly; a capture timed in instructions (`time_unit
 * instructions`) is converted at --instr-per-sec instructions per second. Each
 * process runs on one vCPU (the one with fewest processes when it
 * appeared), busy over the part of a tick its writes are spread over and
 * idle otherwise; processes sharing a vCPU in a tick each get an equal,
 * disjoint part of the tick for their writes, and kernel work (faults,
 * fork, exec, exit) takes the vCPU's time as it would, so a write can land
 * a little after its slot. Guest pages are placed by src/import/
 * guest-vpn-map.ts.
 *
 * This file reads the records and plans each tick; src/import/
 * rtdirty-scheduler.ts runs the plan on the vCPUs, and the import job
 * (src/import/import-job.ts, shared with lackey) does the rest: options,
 * the source's digest, the guest, progress, sealing the trace.
 *
 * The trace's header keeps the capture's identity (name, sha256, its own
 * header keys) and these choices in `source`; the footer's workload stats
 * hold the capture's exact per-interval figures (intervals, pages written,
 * interval-to-interval overlap) beside the guest kernel's counters.
 */
export const RTDIRTY_WORKLOAD = 'import:rtdirty';

/** Bytes of each write a D or B page becomes (the capture does not say). */
const WRITE_BYTES = 8;

/** One record of the current tick, kept until its S line. */
interface PendingRecord {
  readonly kind: number;
  readonly tNs: number;
  readonly pid: number;
  readonly ppid: number;
  readonly pages: Float64Array | null;
  frames: Float64Array | null;
  readonly line: number;
  readonly text: string;
}

/** A captured process as the planner sees it. */
interface ProcState {
  readonly pid: number;
  space: ImportSpace;
  readonly vcpu: number;
  cursorNs: number;
  exiting: boolean;
  /** Its D pages of the latest tick it had some, sorted, and that tick's number. */
  prevDirty: Float64Array | null;
  prevDirtyTick: number;
}

/** Figures of the capture itself, exact (from the records, not the guest). */
interface CaptureCounts {
  intervals: number;
  attached: number;
  exits: number;
  execs: number;
  baselinePages: number;
  pagesWritten: number;
  maxIntervalPages: number;
  overlapPages: number;
  overlapBasePages: number;
  physUnpaired: number;
  implicitExits: number;
  /** Processes attached by their first record, with no P line (captures converted from valgrind lackey have none). */
  implicitAttaches: number;
}

export async function importRtdirty(opts: ImportOptions): Promise<ImportResult> {
  return runImport(opts, RTDIRTY_FORMAT);
}

/** The same, synchronously, for a capture that is not compressed. */
export function importRtdirtySync(opts: ImportOptions): ImportResult {
  return runImportSync(opts, RTDIRTY_FORMAT);
}

const RTDIRTY_FORMAT: CaptureFormat = { defaultVcpus: 2, open: (setup) => new RtdirtyImporter(setup) };

/** One capture's import: its records read, planned tick by tick and replayed in the guest. */
class RtdirtyImporter implements CaptureReplay {
  currentLine = 0;
  private captureHeader: RtdirtyHeader | undefined;
  private instructionClock = false;
  private intervalNs = 0;
  private firstTickNs = -1;
  private readonly ips: number;
  private readonly skipped: SkippedLines;
  private readonly params: Record<string, number | string>;
  private readonly trace: ImportTrace;
  private readonly lines: LineSplitter;
  private readonly rec = new RtdirtyRecord();
  private readonly order = new RtdirtyTickCheck();
  private readonly guest: ImportGuest;
  private readonly scheduler: RtdirtyScheduler;
  private readonly rng: Xoshiro128;
  private readonly file: string;
  private pending: PendingRecord[] = [];
  private readonly procs = new Map<number, ProcState>();
  private tickStartNs = 0;
  private lastRecordNs = 0;
  private ticks = 0;
  private seq = 0;
  private readonly counts: CaptureCounts = {
    intervals: 0,
    attached: 0,
    exits: 0,
    execs: 0,
    baselinePages: 0,
    pagesWritten: 0,
    maxIntervalPages: 0,
    overlapPages: 0,
    overlapBasePages: 0,
    physUnpaired: 0,
    implicitExits: 0,
    implicitAttaches: 0,
  };

  constructor(private readonly setup: ImportSetup) {
    const opts = setup.opts;
    this.file = opts.file;
    this.ips = setup.ips;
    this.skipped = setup.skipped;
    // The header's guest and chunking are known now, its source only at
    // the end: the events go to a provisional trace (ImportTrace).
    this.params = { hz: setup.hz, order: 'shuffled', writeBytes: WRITE_BYTES };
    this.trace = new ImportTrace(opts.out, workloadTraceHeader(setup.guestSpec, { name: RTDIRTY_WORKLOAD, seed: opts.seed, durationNs: 0, params: this.params }, { source: {} }));
    this.guest = setup.bootGuest(this.trace);
    this.rng = deriveStream(opts.seed, 'import/rtdirty/write-order');
    this.scheduler = new RtdirtyScheduler(this.guest, WRITE_BYTES, this);
    this.lines = new LineSplitter((buf, start, end, lineNo) => this.line(buf, start, end, lineNo));
  }

  private get durationNs(): number {
    return Math.max(this.tickStartNs, this.lastRecordNs, this.guest.out.nowNs);
  }

  push(block: Buffer): void {
    this.lines.push(block);
  }

  /** End of file: records after the last S form a last tick ending at their latest time. */
  end(): { header: TraceHeader; stats: Record<string, number> } {
    const { opts } = this.setup;
    if (!this.captureHeader) throw new ImportError(this.file, 1, 'empty capture', undefined, "an rtdirty capture starts with '# rtdirty v1 ...'");
    if (this.pending.length > 0) this.tick(Math.max(this.tickStartNs, this.lastRecordNs), false);
    this.guest.finish(this.durationNs);
    const captureHeader = this.captureHeader;
    const durationNs = this.durationNs;
    const ips = this.ips;
    if (this.instructionClock) this.params['ips'] = ips;
    const source = {
      format: 'rtdirty',
      version: captureHeader.version,
      ...sourceIdentity(opts.file, this.setup.digest.hex(), this.setup.fileBytes, this.setup.gzip),
      header: captureHeader.keys,
      clock: this.instructionClock ? 'instructions' : 'ms',
      intervalNs: this.intervalNs,
      firstTickNs: this.firstTickNs,
      mapping: {
        vpn: 'per address space, in order of first appearance: each source GiB (page >> 18) to the next guest GiB of user space, each source 2 MiB region to the next 2 MiB slot of it, page offset kept',
        time: this.instructionClock ? `t instructions / ${ips} per s, in integer ns` : 't ms since capture start, in integer ns',
        writes: 'one write per D page, spread evenly over its tick (previous S to this S), order drawn from the seed',
        baseline: 'B pages faulted in and written at the B time',
        frames: 'a source frame seen under pages of two processes (b/d lines), not by fork, is one guest shmem frame',
        processes: 'P: fork of a captured parent, else an empty address space; a pid with no P line: an empty address space at its first record; E: exec; Z (or X): exit',
      },
    };
    const header = workloadTraceHeader(this.trace.header.guest, { name: RTDIRTY_WORKLOAD, seed: opts.seed, durationNs, params: this.params }, { source });
    return { header, stats: this.stats() };
  }

  private line(buf: Buffer, start: number, end: number, lineNo: number): void {
    this.currentLine = lineNo;
    if (lineNo === 1) {
      this.header(buf.toString('utf8', start, end));
      return;
    }
    let kind: number;
    try {
      kind = this.rec.parse(buf, start, end);
    } catch (e) {
      if (!(e instanceof RtdirtyParseError)) throw e;
      this.skipped.malformed(lineNo, e.message, buf.toString('utf8', start, end));
      return;
    }
    if (kind === K.blank || kind === K.comment) return;
    const r = this.rec;
    const tNs = this.toNs(r.tMicro);
    const bad = this.order.problem(kind, r.tMicro, r.dirty);
    if (bad) {
      // With --skip-bad, a record out of time order is dropped; an S line
      // out of order too (its records join the next tick), but one whose
      // count alone is wrong still ends its tick: its time is sound.
      this.skipped.malformed(lineNo, bad, buf.toString('utf8', start, end));
      if (kind !== K.tick || !this.order.countOnly) return;
    }
    if (kind === K.tick) {
      this.order.tickEnded(r.tMicro);
      this.tick(tNs);
      return;
    }
    this.order.recordRead(r.tMicro, kind, r.pid, kind === K.dirty ? r.n : 0);
    if (tNs > this.lastRecordNs) this.lastRecordNs = tNs;
    const hasPages = kind === K.baseline || kind === K.dirty || kind === K.physBaseline || kind === K.physDirty;
    this.pending.push({
      kind,
      tNs,
      pid: r.pid,
      ppid: r.ppid,
      pages: hasPages ? r.pages.slice(0, r.n) : null,
      frames: null,
      line: lineNo,
      // Kept for the message about a record that only the planner can judge.
      text: buf.toString('utf8', start, Math.min(end, start + 200)) + (end - start > 200 ? ' ...' : ''),
    });
  }

  private stats(): Record<string, number> {
    const c = this.counts;
    let distinct = this.scheduler.releasedPages;
    for (const st of this.procs.values()) if (st.space.alive) distinct += st.space.listedPages;
    return {
      ...this.guest.kernel.statsEntries(),
      intervals: c.intervals,
      captureProcesses: c.attached,
      captureExits: c.exits,
      captureExecs: c.execs,
      baselinePages: c.baselinePages,
      pagesWritten: c.pagesWritten,
      maxIntervalPages: c.maxIntervalPages,
      overlapPages: c.overlapPages,
      overlapBasePages: c.overlapBasePages,
      distinctPages: distinct,
      sharedFrames: this.guest.sharedFrames,
      sharedMappings: this.guest.sharedMappings,
      inheritedPages: this.guest.inheritedPages,
      physUnpaired: c.physUnpaired,
      implicitExits: c.implicitExits,
      implicitAttaches: c.implicitAttaches,
      skippedLines: this.skipped.count,
    };
  }

  private header(text: string): void {
    let h: RtdirtyHeader;
    try {
      h = parseRtdirtyHeader(text);
    } catch (e) {
      if (e instanceof RtdirtyParseError) throw ImportError.malformed(this.file, 1, e.message, text);
      throw e;
    }
    if (h.major !== RTDIRTY_MAJOR) {
      throw new ImportError(this.file, 1, `unsupported rtdirty version ${h.version}`, text, `this importer reads major version ${RTDIRTY_MAJOR}`);
    }
    // Page numbers mean nothing without their size: a capture that does
    // not say is refused rather than taken to be of 4 KiB pages.
    const pageSize = h.keys['page_size'];
    if (pageSize === undefined) throw new ImportError(this.file, 1, 'the header has no page_size', text, "an rtdirty v1 header gives 'page_size 4096' (migsim guests use 4 KiB pages)");
    if (pageSize !== '4096') {
      throw new ImportError(this.file, 1, `page_size ${pageSize} is not supported`, text, 'migsim guests use 4 KiB pages');
    }
    this.instructionClock = h.keys['time_unit'] === 'instructions' || (h.keys['interval_ms'] === undefined && h.keys['interval_instr'] !== undefined);
    const interval = this.instructionClock ? h.keys['interval_instr'] : h.keys['interval_ms'];
    // Read as record times are, bound included.
    const micro = interval !== undefined ? parseDecimalMicroText(interval) : 0;
    if (micro < 0) throw ImportError.malformed(this.file, 1, `header (interval '${interval}')`, text);
    this.intervalNs = this.toNs(micro);
    this.captureHeader = h;
  }

  private toNs(tMicro: number): number {
    // ms: millionths of a ms are ns. Instructions: millionths of one, at ips per second.
    return this.instructionClock ? Math.round((tMicro * 1e3) / this.ips) : tMicro;
  }

  // ------------------------------------------------------------ one tick

  private tick(endNs: number, counted = true): void {
    const startNs = this.tickStartNs;
    const tickEnd = Math.max(startNs, endNs);
    if (counted) {
      this.counts.intervals++;
      if (this.firstTickNs < 0) this.firstTickNs = tickEnd;
    }
    const records = this.pairPhysical(this.pending);
    this.pending = [];
    const streams = this.plan(records, startNs, tickEnd);
    this.scheduler.run(streams);
    this.tickStartNs = tickEnd;
    this.ticks++;
  }

  /** Attaches each b/d line's frames to the B/D line of the same process before it. */
  private pairPhysical(records: PendingRecord[]): PendingRecord[] {
    const lastLogical = new Map<number, PendingRecord>();
    const out: PendingRecord[] = [];
    for (const r of records) {
      if (r.kind === K.physBaseline || r.kind === K.physDirty) {
        const want = r.kind === K.physBaseline ? K.baseline : K.dirty;
        const target = lastLogical.get(r.pid);
        if (target && target.kind === want && target.frames === null && target.pages!.length === r.pages!.length) target.frames = r.pages;
        else this.counts.physUnpaired++;
        continue;
      }
      if (r.kind === K.baseline || r.kind === K.dirty) lastLogical.set(r.pid, r);
      out.push(r);
    }
    return out;
  }

  private plan(records: PendingRecord[], tickStart: number, tickEnd: number): RtdirtyStream[] {
    // The time of each record's next non-D record of the same process: a D
    // line's writes end there at the latest (before an exec or an exit).
    const nextOpNs = new Float64Array(records.length).fill(Infinity);
    const seen = new Map<number, number>();
    for (let i = records.length - 1; i >= 0; i--) {
      const r = records[i]!;
      nextOpNs[i] = seen.get(r.pid) ?? Infinity;
      if (r.kind !== K.dirty) seen.set(r.pid, r.tNs);
    }
    const streams: RtdirtyStream[] = [];
    let intervalPages = 0;
    for (let i = 0; i < records.length; i++) {
      const r = records[i]!;
      this.currentLine = r.line;
      try {
        intervalPages += this.planRecord(r, tickStart, tickEnd, nextOpNs[i]!, streams);
      } catch (e) {
        if (!(e instanceof RtdirtyParseError)) throw e;
        this.skipped.malformed(r.line, e.message, r.text);
      }
    }
    if (intervalPages > this.counts.maxIntervalPages) this.counts.maxIntervalPages = intervalPages;
    this.shareTicks(streams);
    return streams;
  }

  /** Plans one record; returns the D pages it adds to the interval. */
  private planRecord(r: PendingRecord, tickStart: number, tickEnd: number, nextOpNs: number, streams: RtdirtyStream[]): number {
    const name = String.fromCharCode(r.kind);
    if (r.kind !== K.attach && r.kind !== K.gone && !this.procs.has(r.pid)) {
      // rtdirty v1 does not require a P record: a pid's first record
      // attaches it (captures converted from lackey have none), as an empty
      // address space with no parent.
      this.counts.implicitAttaches++;
      this.attach(r.pid, -1, r.line, Math.max(tickStart, r.tNs), streams);
    }
    if (r.kind === K.attach) {
      const old = this.procs.get(r.pid);
      if (old && !old.exiting) {
        // A pid seen again without its exit: the old process is gone.
        this.counts.implicitExits++;
        streams.push(this.stream(old.vcpu, Op.exit, r.line, old.space, Math.max(old.cursorNs, r.tNs)));
      }
      this.attach(r.pid, r.ppid, r.line, Math.max(tickStart, r.tNs), streams);
      return 0;
    }
    const st = this.procs.get(r.pid);
    if (st) st.cursorNs = Math.max(st.cursorNs, tickStart);
    // A process gone before it was ever seen: nothing to undo.
    if (!st) return 0;
    if (st.exiting && r.kind !== K.gone) throw new RtdirtyParseError(`${name} record (pid ${r.pid} already announced its exit with Z)`);
    switch (r.kind) {
      case K.baseline: {
        const t = Math.max(st.cursorNs, r.tNs);
        st.cursorNs = t;
        const { pages, frames } = uniquePages(r.pages!, r.frames);
        const gvpns = mapPages(st.space, r.pages!, pages);
        this.counts.baselinePages += pages.length;
        if (pages.length > 0) streams.push(new RtdirtyStream(this.seq++, st.vcpu, Op.baseline, r.line, st.space, pages.length, t, t, pages, gvpns, frames, null));
        return 0;
      }
      case K.dirty: {
        const a = st.cursorNs;
        const b = Math.max(a, Math.min(tickEnd, nextOpNs));
        st.cursorNs = b;
        const { pages, frames } = uniquePages(r.pages!, r.frames);
        this.countOverlap(st, pages);
        this.counts.pagesWritten += pages.length;
        if (pages.length === 0) return 0;
        const gvpns = mapPages(st.space, r.pages!, pages);
        shuffle(this.rng, pages, gvpns, frames);
        streams.push(new RtdirtyStream(this.seq++, st.vcpu, Op.dirty, r.line, st.space, pages.length, a, b, pages, gvpns, frames, null));
        return pages.length;
      }
      case K.exec: {
        const t = Math.max(st.cursorNs, r.tNs);
        st.cursorNs = t;
        const next = this.guest.newSpace();
        streams.push(this.stream(st.vcpu, Op.exec, r.line, st.space, t, next));
        st.space = next;
        st.prevDirty = null;
        this.counts.execs++;
        return 0;
      }
      case K.exiting:
      case K.gone: {
        if (!st.exiting) {
          const t = Math.max(st.cursorNs, r.tNs);
          st.cursorNs = t;
          streams.push(this.stream(st.vcpu, Op.exit, r.line, st.space, t));
          st.exiting = true;
          this.counts.exits++;
        }
        if (r.kind === K.gone) this.procs.delete(r.pid);
        return 0;
      }
      default:
        throw new RtdirtyParseError(`${name} record (unexpected here)`);
    }
  }

  /** A process appears at `tNs`: a fork of its parent if that is captured and alive, else an empty address space. */
  private attach(pid: number, ppid: number, line: number, tNs: number, streams: RtdirtyStream[]): void {
    const parent = ppid >= 0 ? this.procs.get(ppid) : undefined;
    const useParent = parent && !parent.exiting ? parent : undefined;
    const space = this.guest.newSpace(useParent?.space, useParent?.space.map.clone());
    const st: ProcState = { pid, space, vcpu: this.pickVcpu(), cursorNs: tNs, exiting: false, prevDirty: null, prevDirtyTick: -2 };
    this.procs.set(pid, st);
    this.counts.attached++;
    streams.push(this.stream(st.vcpu, useParent ? Op.fork : Op.create, line, space, st.cursorNs, useParent?.space ?? null));
  }

  /** A single kernel operation at `tNs` (`other`: the parent a fork copies, the space an exec moves to). */
  private stream(vcpu: number, op: number, line: number, space: ImportSpace, tNs: number, other: ImportSpace | null = null): RtdirtyStream {
    return new RtdirtyStream(this.seq++, vcpu, op, line, space, 1, tNs, tNs, null, null, null, other);
  }

  /** The vCPU with fewest live processes (lowest number on a tie). */
  private pickVcpu(): number {
    const load = new Int32Array(this.guest.freeNs.length);
    for (const st of this.procs.values()) if (!st.exiting) load[st.vcpu]!++;
    let best = 0;
    for (let v = 1; v < load.length; v++) if (load[v]! < load[best]!) best = v;
    return best;
  }

  /** Interval-to-interval overlap of one process's dirty sets. */
  private countOverlap(st: ProcState, sorted: Float64Array): void {
    const ascending = sorted.slice().sort();
    // Counted from a process's second interval on: its first has no previous one.
    if (st.prevDirtyTick >= 0) this.counts.overlapBasePages += ascending.length;
    if (st.prevDirty && st.prevDirtyTick === this.ticks - 1) this.counts.overlapPages += intersectionSize(ascending, st.prevDirty);
    st.prevDirty = ascending;
    st.prevDirtyTick = this.ticks;
  }

  /**
   * Processes sharing a vCPU in a tick take turns: with k of them writing,
   * each gets its own k-th of its window, in the order they appear.
   */
  private shareTicks(streams: RtdirtyStream[]): void {
    const perVcpu = new Map<number, RtdirtyStream[]>();
    for (const s of streams) {
      if (s.op !== Op.dirty) continue;
      const list = perVcpu.get(s.vcpu);
      if (list) list.push(s);
      else perVcpu.set(s.vcpu, [s]);
    }
    for (const list of perVcpu.values()) {
      const k = list.length;
      list.forEach((s, i) => {
        if (k > 1) {
          const span = s.b - s.a;
          const a = s.a + Math.floor((span * i) / k);
          const b = s.a + Math.floor((span * (i + 1)) / k);
          s.a = a;
          s.b = b;
        }
        s.step = (s.b - s.a) / s.n;
      });
    }
  }
}

/** The distinct pages of a line (a page may rarely repeat) with their frames; first listing wins. */
function uniquePages(listed: Float64Array, frames: Float64Array | null): { pages: Float64Array; frames: Float64Array | null } {
  const sorted = listed.slice().sort();
  let n = 0;
  for (let i = 0; i < sorted.length; i++) if (i === 0 || sorted[i] !== sorted[i - 1]) sorted[n++] = sorted[i]!;
  if (!frames) return { pages: sorted.subarray(0, n), frames: null };
  // With frames, the pages keep their listed order (the frames are by position).
  if (n === listed.length) return { pages: listed.slice(), frames: frames.slice() };
  const seen = new Set<number>();
  const pages = new Float64Array(n);
  const fr = new Float64Array(n);
  let k = 0;
  for (let i = 0; i < listed.length; i++) {
    if (seen.has(listed[i]!)) continue;
    seen.add(listed[i]!);
    pages[k] = listed[i]!;
    fr[k++] = frames[i]!;
  }
  return { pages, frames: fr };
}

/**
 * Gives out guest regions for `listed` in the order listed (first
 * appearance), then returns the guest vpns of `pages`.
 */
function mapPages(space: ImportSpace, listed: Float64Array, pages: Float64Array): Int32Array {
  const map: GuestVpnMap = space.map;
  for (let i = 0; i < listed.length; i++) map.map(listed[i]!);
  const out = new Int32Array(pages.length);
  for (let i = 0; i < pages.length; i++) out[i] = map.map(pages[i]!);
  return out;
}

/** Fisher-Yates over the pages (with their guest vpns and frames), from the seed. */
function shuffle(rng: Xoshiro128, pages: Float64Array, gvpns: Int32Array, frames: Float64Array | null): void {
  for (let i = pages.length - 1; i > 0; i--) {
    const j = rng.belowLarge(i + 1);
    const p = pages[i]!;
    pages[i] = pages[j]!;
    pages[j] = p;
    const g = gvpns[i]!;
    gvpns[i] = gvpns[j]!;
    gvpns[j] = g;
    if (frames) {
      const f = frames[i]!;
      frames[i] = frames[j]!;
      frames[j] = f;
    }
  }
}

function intersectionSize(a: Float64Array, b: Float64Array): number {
  let i = 0;
  let j = 0;
  let n = 0;
  while (i < a.length && j < b.length) {
    if (a[i]! < b[j]!) i++;
    else if (a[i]! > b[j]!) j++;
    else {
      n++;
      i++;
      j++;
    }
  }
  return n;
}
