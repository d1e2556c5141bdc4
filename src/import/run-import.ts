import type { CaptureFormat } from './capture-format.js';
import { ImportJob } from './import-job.js';
import type { ImportOptions, ImportResult } from './import-options.js';
import { lineBlocks, lineBlocksSync } from './line-reader.js';

/**
 * Imports the capture `opts.file`, gzip or not, as `format` reads it (one
 * import job: src/import/import-job.ts); `opts.onProgress` is told the
 * share of the file read after each block of lines.
 */
export async function runImport(opts: ImportOptions, format: CaptureFormat): Promise<ImportResult> {
  const job = new ImportJob(opts, format);
  try {
    const read = readProgress(job, opts.onProgress);
    for await (const block of lineBlocks(opts.file, { onRawBytes: read.onRawBytes })) {
      job.push(block);
      read.blockDone();
    }
    return job.finish();
  } catch (e) {
    throw job.fail(e);
  }
}

/** The same, synchronously, for a capture that is not compressed. */
export function runImportSync(opts: ImportOptions, format: CaptureFormat): ImportResult {
  const job = new ImportJob(opts, format);
  try {
    const read = readProgress(job, opts.onProgress);
    for (const block of lineBlocksSync(opts.file, { onRawBytes: read.onRawBytes })) {
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
