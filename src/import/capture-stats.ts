import type { GuestBatch } from '../events/guest-batch.js';
import { GuestEventKind } from '../events/guest-event-kind.js';
import type { TraceFooter, TraceHeader } from '../trace/trace-records.js';
import { guestLayout } from '../workloads/guest-layout.js';
import { stabilityFigures, type StabilityFigures } from '../reducers/round-stability.js';

/**
 * What `migsim inspect` says about an imported capture: where it came from
 * (header.source), what the importer counted (footer workload stats), and
 * the dirtying as the imported trace itself has it. The last is computed
 * from the guest events: the user pages written (a page is an address
 * space, named by the root its vCPU has loaded, and a vpn), binned into the
 * capture's intervals (its nominal interval, from the end of its first
 * tick), so that a researcher can check the import against the capture's
 * own figures: pages dirty per interval and per second, the fraction of an
 * interval's pages also dirty in the one before, distinct pages.
 *
 * The bins follow the nominal interval, so when the sampler's ticks drift
 * from it (by a fraction of a ms) a few writes near a boundary fall in the
 * neighbouring bin; the importer's own figures (`importer`) are exact.
 */
export interface CaptureStats {
  readonly format: string;
  readonly file: string;
  readonly sha256: string;
  /** The capture's own header keys. */
  readonly captureHeader: Readonly<Record<string, unknown>>;
  readonly processesCreated: number;
  readonly processesExited: number;
  /** The capture's figures as the importer counted them (exact). */
  readonly importer: {
    readonly intervals: number;
    readonly pagesWritten: number;
    readonly distinctPages: number;
    /** Pages of an interval also dirty in the previous interval, as a fraction. */
    readonly overlap: number;
  };
  /** The same, measured on the imported trace's events. */
  readonly trace: {
    readonly intervalNs: number;
    readonly intervals: number;
    readonly dirtyPagesPerInterval: { readonly mean: number; readonly max: number };
    readonly dirtyPagesPerSecond: number;
    readonly overlap: number;
    readonly distinctPages: number;
    /**
     * Per interval with pages written (`interval` counts from 0 at the
     * capture's first tick): its dirty pages and, from the second on, the
     * working set's stability against the interval before
     * (src/reducers/round-stability.ts; an interval with nothing written
     * before it has 0 of both).
     */
    readonly perInterval: readonly IntervalStability[];
  };
}

export interface IntervalStability extends Partial<StabilityFigures> {
  readonly interval: number;
  readonly startNs: number;
  readonly dirtyPages: number;
}

/** Feeds on a trace's guest batches; `result` once they have all gone by. */
export class CaptureStatsCollector {
  private readonly intervalNs: number;
  private readonly firstEndNs: number;
  private readonly isUserVpn: (vpn: number) => boolean;
  private readonly root: Float64Array;
  private current = new Set<number>();
  private previous = new Set<number>();
  private readonly distinct = new Set<number>();
  private bin = -1;
  private previousBin = -2;
  private firstBin = -1;
  private sumDirty = 0;
  private maxDirty = 0;
  private overlapPages = 0;
  private overlapBase = 0;
  private readonly perInterval: IntervalStability[] = [];

  constructor(private readonly header: TraceHeader) {
    const src = header.source ?? {};
    const interval = Number(src['intervalNs']);
    this.intervalNs = interval > 0 ? interval : 100_000_000;
    const first = Number(src['firstTickNs']);
    this.firstEndNs = first > 0 ? first : this.intervalNs;
    this.isUserVpn = guestLayout(header.guest.paging, header.guest.type).isUserVpn;
    this.root = new Float64Array(header.guest.vcpus).fill(-1);
  }

  add(b: GuestBatch): void {
    const { kind, dtNs, vcpu, page } = b;
    let t = b.baseNs;
    const firstEnd = this.firstEndNs;
    const interval = this.intervalNs;
    for (let i = 0; i < b.count; i++) {
      t += dtNs[i]!;
      const k = kind[i]!;
      if (k === GuestEventKind.cr3Load) {
        this.root[vcpu[i]!] = page[i]!;
        continue;
      }
      if (k !== GuestEventKind.write) continue;
      const vpn = page[i]!;
      if (!this.isUserVpn(vpn)) continue;
      const bin = t < firstEnd ? 0 : Math.floor((t - firstEnd) / interval) + 1;
      if (bin !== this.bin) this.close(bin);
      // Address space and page in one exact integer (roots are below 2^22).
      const key = this.root[vcpu[i]!]! * 2147483648 + vpn;
      this.current.add(key);
      this.distinct.add(key);
    }
  }

  result(footer: TraceFooter): CaptureStats {
    this.close(this.bin + 1);
    const src = this.header.source ?? {};
    const ws = footer.workloadStats;
    const bins = this.firstBin < 0 ? 0 : this.previousBin - this.firstBin + 1;
    const base = ws['overlapBasePages'] ?? 0;
    return {
      format: String(src['format'] ?? 'unknown'),
      file: String(src['file'] ?? ''),
      sha256: String(src['sha256'] ?? ''),
      captureHeader: (src['header'] as Record<string, unknown> | undefined) ?? {},
      processesCreated: ws['processesCreated'] ?? 0,
      processesExited: ws['processesExited'] ?? 0,
      importer: {
        intervals: ws['intervals'] ?? 0,
        pagesWritten: ws['pagesWritten'] ?? 0,
        distinctPages: ws['distinctPages'] ?? ws['pagesWritten'] ?? 0,
        overlap: base > 0 ? (ws['overlapPages'] ?? 0) / base : 0,
      },
      trace: {
        intervalNs: this.intervalNs,
        intervals: bins,
        dirtyPagesPerInterval: { mean: bins > 0 ? this.sumDirty / bins : 0, max: this.maxDirty },
        dirtyPagesPerSecond: bins > 0 ? (this.sumDirty / bins) * (1e9 / this.intervalNs) : 0,
        overlap: this.overlapBase > 0 ? this.overlapPages / this.overlapBase : 0,
        distinctPages: this.distinct.size,
        perInterval: this.perInterval,
      },
    };
  }

  /** Ends the current bin (if it has pages) and starts `bin`. */
  private close(bin: number): void {
    const n = this.current.size;
    if (n > 0) {
      const startNs = this.bin === 0 ? 0 : this.firstEndNs + (this.bin - 1) * this.intervalNs;
      if (this.firstBin < 0) {
        this.firstBin = this.bin;
        this.perInterval.push({ interval: this.bin, startNs, dirtyPages: n });
      } else {
        this.overlapBase += n;
        // The interval before this one: its pages, or none if nothing was written in it.
        const before = this.previousBin === this.bin - 1 ? this.previous : undefined;
        let shared = 0;
        if (before) for (const key of this.current) if (before.has(key)) shared++;
        this.overlapPages += shared;
        const union = (before?.size ?? 0) + n - shared;
        this.perInterval.push({ interval: this.bin, startNs, dirtyPages: n, ...stabilityFigures({ shared, union }, n) });
      }
      this.sumDirty += n;
      if (n > this.maxDirty) this.maxDirty = n;
      this.previousBin = this.bin;
      const swap = this.previous;
      this.previous = this.current;
      this.current = swap;
      this.current.clear();
    }
    this.bin = bin;
  }
}
