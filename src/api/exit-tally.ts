import { RUN_EVENT_KIND_NAMES } from '../events/run-event-kind.js';

export interface ExitTally {
  readonly count: number;
  readonly costNs: number;
}

/**
 * Adds a tracker's exit counters (by run-event kind code) into a tally by
 * kind name, less a snapshot taken earlier when `since` is given (the
 * exits of one phase). Kinds with nothing are left out.
 */
export function tallyExits(
  into: Record<string, ExitTally>,
  counts: ArrayLike<number>,
  costsNs: ArrayLike<number>,
  since?: { readonly counts: ArrayLike<number>; readonly costsNs: ArrayLike<number> },
): Record<string, ExitTally> {
  for (let k = 0; k < RUN_EVENT_KIND_NAMES.length; k++) {
    const c = counts[k]! - (since ? since.counts[k]! : 0);
    if (c <= 0) continue;
    const name = RUN_EVENT_KIND_NAMES[k]!;
    const prev = into[name];
    into[name] = { count: (prev?.count ?? 0) + c, costNs: (prev?.costNs ?? 0) + Math.round(costsNs[k]! - (since ? since.costsNs[k]! : 0)) };
  }
  return into;
}
