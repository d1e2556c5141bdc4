/** Where a recorded and a re-derived stream first differ. */
export interface ReplayDifference {
  readonly chunk: number;
  /** Index of the first differing event within the chunk, and overall. */
  readonly event: number;
  readonly eventOverall: number;
  readonly column: string;
  readonly recorded: string;
  readonly regenerated: string;
}

/** A columnar batch seen only through its named columns (GuestBatch, RunBatch). */
type Columns<C extends string> = { readonly count: number } & { readonly [K in C]: ArrayLike<number> };

/**
 * The first event at which a recorded and a re-derived batch of the same
 * stream differ, column by column in `columns` order (kinds shown by name),
 * then in their counts; undefined when they are the same events.
 */
export function firstBatchDifference<C extends string>(
  chunk: number,
  before: number,
  rec: Columns<C>,
  got: Columns<C>,
  columns: readonly C[],
  kindNames: readonly string[],
): ReplayDifference | undefined {
  const n = Math.min(rec.count, got.count);
  // Column by column, each scanned only up to the earliest difference found
  // so far: the earliest event wins, and within it the earlier column.
  let first = n;
  let firstCol: C | undefined;
  for (const col of columns) {
    const x = rec[col];
    const y = got[col];
    for (let i = 0; i < first; i++) {
      if (x[i] !== y[i]) {
        first = i;
        firstCol = col;
        break;
      }
    }
  }
  if (firstCol !== undefined) {
    const col = firstCol;
    const show = (v: number) => (col === 'kind' ? (kindNames[v] ?? String(v)) : String(v));
    return { chunk, event: first, eventOverall: before + first, column: col, recorded: show(rec[col][first]!), regenerated: show(got[col][first]!) };
  }
  if (rec.count !== got.count) {
    return { chunk, event: n, eventOverall: before + n, column: '(count)', recorded: `${rec.count} events`, regenerated: `${got.count} events` };
  }
  return undefined;
}
