import { GuestResourceError } from '../workloads/guest-resource-error.js';
import { basename } from 'node:path';
import { ConfigError, DEFAULT_GUEST, guestMemPages, PAGE_BYTES } from '../model/guest-config.js';
import { sizeInput } from '../model/units.js';
import type { GuestType, PagingMode } from '../model/paging.js';
import type { GuestSpec, TraceFooter, TraceHeader } from '../trace/trace-records.js';
import { VpnSpaceFullError } from './guest-vpn-map.js';
import { ImportError } from './import-error.js';
import { CaptureDecodeError, LineTooLongError } from './line-reader.js';

/** What both importers take. */
export interface ImportOptions {
  /** The capture (plain or gzip). */
  readonly file: string;
  /** The trace to write (atomically; nothing is written on failure). */
  readonly out: string;
  readonly seed: number;
  readonly guest?: GuestType;
  readonly paging?: PagingMode;
  readonly memBytes?: number;
  readonly vcpus?: number;
  /** Instructions per second of guest time, for captures timed in instructions (default 1e9). */
  readonly ips?: number;
  /** Timer interrupts per second on each vCPU (default 250; 0 for none). */
  readonly hz?: number;
  /** Count and skip malformed lines instead of stopping at the first. */
  readonly skipBad?: boolean;
  /**
   * Where the source file is hashed: `auto` (default) uses a worker thread
   * for files of 8 MiB or more. The output is the same either way.
   */
  readonly digest?: 'auto' | 'inline' | 'worker';
  /**
   * Told the share of the capture read so far (0..1), once per block of
   * lines (about a MiB), never per line: for gzip, the share of the
   * compressed file, its only size known up front.
   */
  readonly onProgress?: (fraction: number) => void;
}

export interface ImportResult {
  readonly header: TraceHeader;
  readonly footer: TraceFooter;
  readonly fileBytes: number;
  /** Malformed lines skipped (with skipBad), and the first few of them as messages. */
  readonly skippedLines: number;
  readonly firstSkipped: readonly string[];
}

export const DEFAULT_IPS = 1e9;
/** The guest kernel's smallest guest (16 MiB). */
const MIN_IMPORT_PAGES = 4096;
export const DEFAULT_IMPORT_HZ = 250;

export function importGuestSpec(opts: ImportOptions, defaultVcpus: number): GuestSpec {
  const g = {
    memBytes: opts.memBytes ?? DEFAULT_GUEST.memBytes,
    vcpus: opts.vcpus ?? defaultVcpus,
    guest: opts.guest ?? DEFAULT_GUEST.guest,
    paging: opts.paging ?? DEFAULT_GUEST.paging,
  };
  const memPages = guestMemPages(g);
  if (memPages < MIN_IMPORT_PAGES) throw new ConfigError(`an imported capture runs in a guest of at least 16 MiB (--mem), got ${sizeInput(memPages * PAGE_BYTES)}`);
  if (g.vcpus > 128) throw new ConfigError(`an imported capture runs on at most 128 vCPUs, got ${g.vcpus}`);
  return { type: g.guest, paging: g.paging, memPages, vcpus: g.vcpus };
}

/** The source file's identity for header.source (`bytes`: its size as stored). */
export function sourceIdentity(file: string, sha256: string, bytes: number, gzip: boolean): Record<string, unknown> {
  return { file: basename(file), sha256, bytes, compressed: gzip ? 'gzip' : 'none' };
}

export function checkIps(ips: number): number {
  if (!(ips > 0) || !Number.isFinite(ips)) throw new ConfigError(`instructions per second (--instr-per-sec) must be a positive number, got ${ips}`);
  return ips;
}

/**
 * Turns what can go wrong while a capture is replayed into the guest into
 * an ImportError at the line being replayed: the guest running out of
 * memory or of user address space is the user's to fix with an option.
 */
export function asImportError(e: unknown, file: string, line: number): unknown {
  if (e instanceof ImportError) return e;
  // The reader fails on the line after the last one the importer saw.
  if (e instanceof LineTooLongError) return new ImportError(file, line + 1, e.message, undefined, 'not a capture this importer reads');
  if (e instanceof CaptureDecodeError) return new ImportError(file, line + 1, e.message);
  if (e instanceof VpnSpaceFullError) return new ImportError(file, line, e.message, undefined, 'import with --paging x86-64');
  if (e instanceof GuestResourceError && e.outOfMemory) {
    return new ImportError(file, line, 'the guest ran out of memory replaying the capture here', undefined, 'give it more with --mem');
  }
  return e;
}
