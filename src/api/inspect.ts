import { GUEST_EVENT_KIND_NAMES, GuestEventKind } from '../events/guest-event-kind.js';
import { RUN_EVENT_KIND_NAMES } from '../events/run-event-kind.js';
import { TraceReader } from '../trace/trace-reader.js';
import type { TraceFooter, TraceHeader } from '../trace/trace-records.js';
import { PageSet } from '../util/page-set.js';
import { type CaptureStats, CaptureStatsCollector } from '../import/capture-stats.js';
import type { GuestBatch } from '../events/guest-batch.js';
import { Mmu } from '../reducers/mmu.js';
import type { MmuStats } from '../reducers/mmu-output.js';
import { runSpecOf } from './record-run.js';

export interface InspectReport {
  readonly file: string;
  readonly fileBytes: number;
  readonly header: TraceHeader;
  readonly footer: TraceFooter;
  readonly guestEvents: number;
  readonly runEvents: number;
  readonly guestEventsByKind: Readonly<Record<string, number>>;
  readonly runEventsByKind: Readonly<Record<string, number>>;
  /** Guest time of the first and last guest event. */
  readonly firstNs: number;
  readonly lastNs: number;
  readonly spanNs: number;
  readonly distinctPages: {
    /** pfns written by phys_write. */
    readonly physWritten: number;
    /** vpns written or read (all address spaces together). */
    readonly virtualTouched: number;
    /** page-table pages written by pt_write. */
    readonly pageTablePages: number;
  };
  readonly bytesPerEvent: number;
  /**
   * For traces whose guest writes page tables: the hardware MMU's view at the
   * end (page-table pages per level, leaf entries with A, D and RW), from
   * replaying the trace through the MMU reducer.
   */
  readonly mmu?: MmuStats;
  /** For a trace imported from a capture: its source and dirtying (src/import/capture-stats.ts). */
  readonly capture?: CaptureStats;
}

export interface InspectOptions {
  /**
   * Replay the guest's page-table writes through the MMU for the `mmu`
   * section (page-table pages per level, leaf A/D/RW shares). Off by
   * default: the counts need no MMU, and its replay was half of inspect's time.
   */
  readonly mmu?: boolean;
}

/**
 * Reads a whole trace (checking its digest) and summarises what is in it.
 * `onProgress` is told the share of the file read, once per chunk.
 */
export function inspect(file: string, onProgress?: (fraction: number) => void, options: InspectOptions = {}): InspectReport {
  const reader = TraceReader.open(file);
  const header = reader.header;
  // A run trace's run is shown as recorded: it must be one migsim can run.
  if (header.traceKind === 'run') {
    try {
      runSpecOf(header, file);
    } catch (e) {
      reader.close();
      throw e;
    }
  }
  const phys = new PageSet();
  const virt = new PageSet();
  const pt = new PageSet();
  let firstNs = -1;
  // The footer's lastNs is the latest time over both streams: in a run
  // trace, run events (the final copy, say) end after the guest's last event.
  let lastNs = 0;
  const capture = header.source ? new CaptureStatsCollector(header) : undefined;
  // The MMU is replayed only when asked, and the guest writes page tables.
  let mmu: Mmu | undefined;
  const wantMmu = options.mmu === true;
  const footer = reader.forEachChunk((c) => {
    onProgress?.(reader.fractionRead);
    if (c.stream !== 'guest') return;
    const b = c.batch;
    if (wantMmu && !mmu && hasPtWrites(b)) {
      mmu = new Mmu({ guest: header.guest.type, paging: header.guest.paging, memPages: header.guest.memPages, vcpus: header.guest.vcpus, seed: header.workload.seed });
    }
    mmu?.apply(b);
    capture?.add(b);
    const { kind, page, dtNs } = b;
    if (firstNs < 0 && b.count > 0) firstNs = b.baseNs + dtNs[0]!;
    if (b.count > 0) lastNs = b.endNs;
    for (let i = 0; i < b.count; i++) {
      const k = kind[i]!;
      if (k === GuestEventKind.physWrite) phys.add(page[i]!);
      else if (k === GuestEventKind.write || k === GuestEventKind.read) virt.add(page[i]!);
      else if (k === GuestEventKind.ptWrite) pt.add(page[i]!);
    }
  });
  const events = footer.guestEvents + footer.runEvents;
  return {
    file,
    fileBytes: reader.fileBytes,
    header,
    footer,
    guestEvents: footer.guestEvents,
    runEvents: footer.runEvents,
    guestEventsByKind: byName(GUEST_EVENT_KIND_NAMES, footer.guestEventsByKind),
    runEventsByKind: byName(RUN_EVENT_KIND_NAMES, footer.runEventsByKind),
    firstNs: Math.max(firstNs, 0),
    lastNs,
    spanNs: lastNs - Math.max(firstNs, 0),
    distinctPages: { physWritten: phys.size, virtualTouched: virt.size, pageTablePages: pt.size },
    bytesPerEvent: events ? reader.fileBytes / events : 0,
    ...(mmu ? { mmu: mmu.stats() } : {}),
    ...(capture ? { capture: capture.result(footer) } : {}),
  };
}

function byName(names: readonly string[], counts: readonly number[]): Record<string, number> {
  const out: Record<string, number> = {};
  counts.forEach((n, k) => {
    if (n > 0) out[names[k] ?? `kind${k}`] = n;
  });
  return out;
}

function hasPtWrites(b: GuestBatch): boolean {
  const k = b.kind;
  for (let i = 0; i < b.count; i++) if (k[i] === GuestEventKind.ptWrite) return true;
  return false;
}
