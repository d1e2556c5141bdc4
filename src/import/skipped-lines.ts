import { ImportError } from './import-error.js';

/** Messages kept for the first skipped lines. */
const SKIPPED_KEPT = 5;

/**
 * What an importer does with a malformed line: stop at it (the default),
 * or, with --skip-bad, count it and keep the messages of the first few for
 * the report.
 */
export class SkippedLines {
  /** Malformed lines skipped. */
  count = 0;
  /** The messages of the first SKIPPED_KEPT of them. */
  readonly first: string[] = [];

  constructor(
    private readonly file: string,
    private readonly skipBad: boolean,
  ) {}

  /** Throws the line's ImportError, or counts the line when skipping bad lines. */
  readonly malformed = (lineNo: number, what: string, content: string): void => {
    const e = ImportError.malformed(this.file, lineNo, what, content);
    if (!this.skipBad) throw e;
    this.count++;
    if (this.first.length < SKIPPED_KEPT) this.first.push(e.message);
  };
}
