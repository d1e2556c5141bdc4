import { statSync } from 'node:fs';
import type { CaptureFormat, CaptureReplay, ImportSetup } from './capture-format.js';
import { ImportGuest } from './import-guest.js';
import { asImportError, checkIps, DEFAULT_IMPORT_HZ, DEFAULT_IPS, importGuestSpec, type ImportOptions, type ImportResult } from './import-options.js';
import type { SealableTrace } from './import-trace.js';
import { isGzipFile } from './line-reader.js';
import { SkippedLines } from './skipped-lines.js';
import { SourceDigest } from './source-digest.js';

/**
 * One import of one capture, whatever its format: the options checked, the
 * source's digest (every stored byte goes through `onRawBytes`), the guest
 * booted on the format's trace, each block of lines handed to the format's
 * replay, then the trace sealed under its complete header; on any failure,
 * the output dropped and the error turned into the one to throw (an
 * ImportError at the line being read, where the problem has one).
 * src/import/run-import.ts reads the file through it.
 */
export class ImportJob {
  /** The capture's size as stored, taken once as the job starts (progress is a share of it). */
  readonly fileBytes: number;
  readonly onRawBytes: (bytes: Uint8Array) => void;
  private readonly setup: ImportSetup;
  private readonly replay: CaptureReplay;
  private trace: SealableTrace | undefined;

  constructor(opts: ImportOptions, format: CaptureFormat) {
    const guestSpec = importGuestSpec(opts, format.defaultVcpus);
    const ips = checkIps(opts.ips ?? DEFAULT_IPS);
    const hz = opts.hz ?? DEFAULT_IMPORT_HZ;
    const file = opts.file;
    const gzip = isGzipFile(file);
    const fileBytes = statSync(file).size;
    const digest = new SourceDigest(file, { countLinesStartingWith: format.countLinesStartingWith, gzip, mode: opts.digest ?? 'auto', fileBytes });
    this.fileBytes = fileBytes;
    this.onRawBytes = digest.update;
    this.setup = {
      opts,
      guestSpec,
      ips,
      hz,
      gzip,
      fileBytes,
      digest,
      skipped: new SkippedLines(file, opts.skipBad ?? false),
      bootGuest: (trace) => {
        this.trace = trace;
        return new ImportGuest(guestSpec, { seed: opts.seed, hz }, trace.builder);
      },
    };
    try {
      this.replay = format.open(this.setup);
      if (!this.trace) throw new Error('importer bug: the capture format opened no trace (it must boot the guest through setup.bootGuest)');
    } catch (e) {
      this.trace?.abort();
      digest.dispose();
      throw e;
    }
  }

  push(block: Buffer): void {
    this.replay.push(block);
  }

  finish(): ImportResult {
    const { header, stats } = this.replay.end();
    const sealed = this.trace!.seal(header, stats);
    const skipped = this.setup.skipped;
    return { header, footer: sealed.footer, fileBytes: sealed.fileBytes, skippedLines: skipped.count, firstSkipped: skipped.first };
  }

  /** Drops the output and returns the error to throw. */
  fail(e: unknown): unknown {
    this.trace?.abort();
    this.setup.digest.dispose();
    return asImportError(e, this.setup.opts.file, this.replay.currentLine);
  }
}
