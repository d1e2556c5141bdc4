/**
 * The one error a bad capture gives: the file, the line number and the
 * line itself, so the user can open the file at that line. A malformed
 * line reads `FILE:LINE: malformed <what>: '<content>'`; other problems
 * (an unsupported version, a capture too big for the guest) use the same
 * shape with their own problem text and, when it helps, what to do.
 */
export class ImportError extends Error {
  override readonly name = 'ImportError';

  constructor(
    readonly file: string,
    readonly line: number,
    readonly problem: string,
    readonly content?: string,
    readonly hint?: string,
  ) {
    super(`${file}:${line}: ${problem}${content === undefined ? '' : `: '${clip(content)}'`}${hint ? `: ${hint}` : ''}`);
  }

  /** A line that does not parse as the format says. */
  static malformed(file: string, line: number, what: string, content: string): ImportError {
    return new ImportError(file, line, `malformed ${what}`, content);
  }
}

/** Longest line content quoted in a message; a D line can be megabytes long. */
const MAX_QUOTED_CHARS = 160;

function clip(content: string): string {
  if (content.length <= MAX_QUOTED_CHARS) return content;
  return `${content.slice(0, MAX_QUOTED_CHARS)}... (${(content.length - MAX_QUOTED_CHARS).toLocaleString('en-US')} more characters)`;
}
