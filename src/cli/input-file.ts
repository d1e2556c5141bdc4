import { statSync } from 'node:fs';
import { UsageError } from './usage-error.js';

/**
 * Refuses a directory given where a file is to be read, naming it. Opening
 * a directory succeeds; only the first read fails, with EISDIR and no path,
 * so the reader's error could not say which argument was wrong. A missing
 * file is left to the reader, whose error names it.
 */
export function inputFile(path: string, what = 'a trace file'): string {
  if (statSync(path, { throwIfNoEntry: false })?.isDirectory()) throw new UsageError(`${path}: is a directory, not ${what}`);
  return path;
}
