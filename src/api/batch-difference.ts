import type { ReplayDifference } from './replay.js';

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
  for (let i = 0; i < n; i++) {
    for (const col of columns) {
      const a = rec[col][i]!;
      const b = got[col][i]!;
      if (a !== b) {
        const show = (v: number) => (col === 'kind' ? (kindNames[v] ?? String(v)) : String(v));
        return { chunk, event: i, eventOverall: before + i, column: col, recorded: show(a), regenerated: show(b) };
      }
    }
  }
  if (rec.count !== got.count) {
    return { chunk, event: n, eventOverall: before + n, column: '(count)', recorded: `${rec.count} events`, regenerated: `${got.count} events` };
  }
  return undefined;
}
