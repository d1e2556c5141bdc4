import type { RoundStability } from './run-final.js';

/**
 * How stable a working set is from one interval to the next, the measure
 * used to compare a workload with a real capture: of the B pages dirty in
 * an interval, the share also dirty in the interval before (|A ∩ B| / |B|),
 * and the Jaccard index of the two sets (|A ∩ B| / |A ∪ B|). Log-dirty
 * rounds (`run --round`) and a capture's intervals (`inspect`) report it
 * alike. Undefined for the first interval, which has none before it.
 */
export interface StabilityFigures {
  readonly overlapWithPrevious: number;
  readonly jaccardWithPrevious: number;
}

export function stabilityFigures(st: RoundStability | undefined, dirtyPages: number): StabilityFigures | undefined {
  if (!st || st.union < 0) return undefined;
  return { overlapWithPrevious: dirtyPages > 0 ? st.shared / dirtyPages : 0, jaccardWithPrevious: st.union > 0 ? st.shared / st.union : 0 };
}
