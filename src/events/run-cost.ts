import type { RunBatch } from './run-batch.js';
import { RunEventKind } from './run-event-kind.js';

/**
 * A run event's cost in full. The costNs column holds 32 bits (4.29 s); a
 * longer cost (a checkpoint's 17 s send of a 2 GiB guest) keeps its low 32
 * bits there and is followed, in the same batch, by a `cost_high` event
 * holding the high bits. The column keeps its width, so traces without such
 * costs are unchanged; every reader of costs goes through this function.
 */
export const COST_WORD_NS = 2 ** 32;

/** The largest cost a run event carries: the largest integer a double holds exactly (104 days). */
export const MAX_RUN_COST_NS = Number.MAX_SAFE_INTEGER;

/** The largest high word a `cost_high` event may hold: MAX_RUN_COST_NS >> 32. */
export const MAX_COST_HIGH = Math.floor(MAX_RUN_COST_NS / COST_WORD_NS);

/** The full cost of event `i` of `b` (ns): its column value plus the `cost_high` after it, if one follows. */
export function runEventCostNs(b: RunBatch, i: number): number {
  const j = i + 1;
  const low = b.costNs[i]!;
  return j < b.count && b.kind[j] === RunEventKind.costHigh ? low + b.costNs[j]! * COST_WORD_NS : low;
}
