/**
 * The one error a bad trace file gives: what went wrong, in which file, at
 * which byte offset and record, and what to do about it.
 */
export class TraceError extends Error {
  override readonly name = 'TraceError';

  constructor(
    readonly file: string,
    readonly problem: string,
    readonly byteOffset?: number,
    readonly record?: string,
    readonly hint?: string,
  ) {
    super(formatTraceError(file, problem, byteOffset, record, hint));
  }
}

function formatTraceError(file: string, problem: string, byteOffset?: number, record?: string, hint?: string): string {
  let s = `${file}: ${problem}`;
  const where: string[] = [];
  if (record !== undefined) where.push(record);
  if (byteOffset !== undefined) where.push(`at byte ${byteOffset.toLocaleString('en-US')}`);
  if (where.length) s += ` (${where.join(', ')})`;
  if (hint) s += `: ${hint}`;
  return s;
}
