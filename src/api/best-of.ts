/**
 * Which run a table may mark best on a figure where lower is better: the
 * lowest value among completed runs, or -1 when fewer than two completed
 * or they are all equal. An incomplete or failed run's figure is not a
 * result to rank (its downtime never happened, or its destination is not
 * its source).
 */
export function bestOf(values: readonly number[], completed: readonly boolean[]): number {
  const candidates = values.map((v, i) => ({ v, i })).filter((c) => completed[c.i]);
  if (candidates.length < 2) return -1;
  const min = Math.min(...candidates.map((c) => c.v));
  if (candidates.every((c) => c.v === min)) return -1;
  return candidates.find((c) => c.v === min)!.i;
}
