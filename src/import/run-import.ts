import type { ImportResult } from './import-options.js';
import { lineBlocks, lineBlocksSync } from './line-reader.js';

/**
 * What an importer does with a capture, whichever way it is read: see every
 * stored byte (for the source digest), take each block of whole lines, then
 * seal the trace, or, on any failure, drop the output and turn the error
 * into the one to throw (an ImportError at the line being read, where the
 * problem has one).
 */
export interface ImportJob {
  /** The capture's size as stored, taken once as the job starts (progress is a share of it). */
  readonly fileBytes: number;
  readonly onRawBytes: (bytes: Uint8Array) => void;
  push(block: Buffer): void;
  finish(): ImportResult;
  /** Drops the output and returns the error to throw. */
  fail(e: unknown): unknown;
}

/**
 * Feeds the capture `file` through `job`, gzip or not; `onProgress` is told
 * the share of the file read after each block of lines.
 */
export async function runImport(file: string, job: ImportJob, onProgress?: (fraction: number) => void): Promise<ImportResult> {
  try {
    const read = readProgress(job, onProgress);
    for await (const block of lineBlocks(file, { onRawBytes: read.onRawBytes })) {
      job.push(block);
      read.blockDone();
    }
    return job.finish();
  } catch (e) {
    throw job.fail(e);
  }
}

/** The same, synchronously, for a capture that is not compressed. */
export function runImportSync(file: string, job: ImportJob, onProgress?: (fraction: number) => void): ImportResult {
  try {
    const read = readProgress(job, onProgress);
    for (const block of lineBlocksSync(file, { onRawBytes: read.onRawBytes })) {
      job.push(block);
      read.blockDone();
    }
    return job.finish();
  } catch (e) {
    throw job.fail(e);
  }
}

/**
 * The job's raw-byte hook, counting the bytes on their way to it: the
 * reader sees the file as stored (compressed, for gzip), so the count over
 * the file's size is the share read even when the lines' total is unknown.
 * Reported per block of lines (about a MiB), which keeps the cost out of
 * the parsers' loops. Without `onProgress`, the job's hook is used as is.
 */
function readProgress(job: ImportJob, onProgress: ((fraction: number) => void) | undefined) {
  if (!onProgress) return { onRawBytes: job.onRawBytes, blockDone: () => {} };
  const fileBytes = job.fileBytes;
  let read = 0;
  return {
    onRawBytes: (bytes: Uint8Array) => {
      read += bytes.length;
      job.onRawBytes(bytes);
    },
    blockDone: () => onProgress(fileBytes > 0 ? Math.min(read / fileBytes, 1) : 1),
  };
}
