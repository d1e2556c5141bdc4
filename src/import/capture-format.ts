import type { GuestSpec, TraceHeader } from '../trace/trace-records.js';
import type { ImportGuest } from './import-guest.js';
import type { ImportOptions } from './import-options.js';
import type { SealableTrace } from './import-trace.js';
import type { SkippedLines } from './skipped-lines.js';
import type { SourceDigest } from './source-digest.js';

/**
 * What a capture format (rtdirty, lackey) brings to an import: its
 * defaults, and a replay of one capture, which parses the format's lines
 * and turns them into the guest's work. Everything else, the same for
 * every format, is the import job's (src/import/import-job.ts): checking
 * the options, the source's digest, the guest, the bad-line policy,
 * reading the file with progress, sealing the trace and cleaning up on
 * failure.
 */
export interface CaptureFormat {
  /** vCPUs of the guest when the options give none. */
  readonly defaultVcpus: number;
  /**
   * Lines starting with this byte are counted as the source is hashed (by
   * a worker thread, for a large file): lackey's instructions, which give
   * the capture's length before it is parsed through.
   */
  readonly countLinesStartingWith?: number;
  /** Starts replaying one capture (it opens its trace and boots the guest on it through `setup.bootGuest`). */
  open(setup: ImportSetup): CaptureReplay;
}

/** What the import job has settled before the capture is read. */
export interface ImportSetup {
  readonly opts: ImportOptions;
  readonly guestSpec: GuestSpec;
  /** Instructions per second of guest time (checked). */
  readonly ips: number;
  /** Timer interrupts per second on each vCPU (0: none). */
  readonly hz: number;
  readonly gzip: boolean;
  /** The capture's size as stored. */
  readonly fileBytes: number;
  readonly digest: SourceDigest;
  readonly skipped: SkippedLines;
  /**
   * Boots the guest, its events going to `trace`: the trace the job seals
   * when the capture is through, or drops if the import fails from here on.
   */
  bootGuest(trace: SealableTrace): ImportGuest;
}

/** One capture being replayed into the guest. */
export interface CaptureReplay {
  /** The line being read or replayed: where an error is reported. */
  readonly currentLine: number;
  /** Takes one block of whole lines (src/import/line-reader.ts). */
  push(block: Buffer): void;
  /**
   * After the last block: finishes the guest's events, and returns the
   * trace's complete header and the footer's workload stats.
   */
  end(): { header: TraceHeader; stats: Readonly<Record<string, number>> };
}
