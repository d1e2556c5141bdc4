/**
 * Max-min fair sharing of links between streams, as SimGrid's network model
 * solves it (src/kernel/lmm/maxmin.cpp, MaxMin::maxmin_solve, simgrid
 * master of August 2026): every link is a constraint (its capacity), every
 * stream a variable of weight one on each link it crosses, with an upper
 * bound (its own rate cap). Each pass finds the most loaded link, the one
 * with the least remaining capacity per unfixed stream on it (SimGrid's
 * min_usage over saturated_constraints_update); if some unfixed stream's
 * bound is below that share, only the streams with the smallest bound are
 * fixed at it (SimGrid's min_bound branch), else every unfixed stream on
 * that link is fixed at the share. Fixed streams' rates are taken off every
 * link they cross, and the passes repeat until every stream is fixed.
 *
 * Unlike SimGrid there is no precision epsilon: the inputs are a handful of
 * links and streams, and exact ties are broken by index, so the same inputs
 * give the same rates bit for bit.
 */
export interface ShareProblem {
  /** Capacity of each link, bytes per second. */
  readonly capacityBytesPerSec: readonly number[];
  /** For each stream, the links it crosses (indices into capacityBytesPerSec). */
  readonly streamLinks: readonly (readonly number[])[];
  /** For each stream, its own cap (Infinity: none). */
  readonly streamCapBytesPerSec: readonly number[];
}

/** Each stream's rate, bytes per second. */
export function maxMinShare(p: ShareProblem): Float64Array {
  const streams = p.streamLinks.length;
  const links = p.capacityBytesPerSec.length;
  const rate = new Float64Array(streams);
  const fixed = new Uint8Array(streams);
  const remaining = Float64Array.from(p.capacityBytesPerSec);
  const users = new Int32Array(links);
  for (let s = 0; s < streams; s++) for (const l of p.streamLinks[s]!) users[l]!++;
  let unfixed = streams;
  // A stream that crosses no link is held only by its cap.
  for (let s = 0; s < streams; s++) {
    if (p.streamLinks[s]!.length === 0) {
      rate[s] = p.streamCapBytesPerSec[s]!;
      fixed[s] = 1;
      unfixed--;
    }
  }
  while (unfixed > 0) {
    let minShare = Infinity;
    let minLink = -1;
    for (let l = 0; l < links; l++) {
      if (users[l]! === 0) continue;
      const share = Math.max(0, remaining[l]!) / users[l]!;
      if (share < minShare) {
        minShare = share;
        minLink = l;
      }
    }
    let minBound = Infinity;
    for (let s = 0; s < streams; s++) {
      if (!fixed[s] && p.streamCapBytesPerSec[s]! < minBound) minBound = p.streamCapBytesPerSec[s]!;
    }
    const fix = (s: number, r: number): void => {
      rate[s] = r;
      fixed[s] = 1;
      unfixed--;
      for (const l of p.streamLinks[s]!) {
        remaining[l] = remaining[l]! - r;
        users[l]!--;
      }
    };
    if (minBound < minShare) {
      for (let s = 0; s < streams; s++) if (!fixed[s] && p.streamCapBytesPerSec[s] === minBound) fix(s, minBound);
    } else {
      for (let s = 0; s < streams; s++) if (!fixed[s] && p.streamLinks[s]!.includes(minLink)) fix(s, minShare);
    }
  }
  return rate;
}
