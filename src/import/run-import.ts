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
  readonly onRawBytes: (bytes: Uint8Array) => void;
  push(block: Buffer): void;
  finish(): ImportResult;
  /** Drops the output and returns the error to throw. */
  fail(e: unknown): unknown;
}

/** Feeds the capture `file` through `job`, gzip or not. */
export async function runImport(file: string, job: ImportJob): Promise<ImportResult> {
  try {
    for await (const block of lineBlocks(file, { onRawBytes: job.onRawBytes })) job.push(block);
    return job.finish();
  } catch (e) {
    throw job.fail(e);
  }
}

/** The same, synchronously, for a capture that is not compressed. */
export function runImportSync(file: string, job: ImportJob): ImportResult {
  try {
    for (const block of lineBlocksSync(file, { onRawBytes: job.onRawBytes })) job.push(block);
    return job.finish();
  } catch (e) {
    throw job.fail(e);
  }
}
