/**
 * The smallest value of a knob at which a run meets its goal (completes,
 * within a target), found by bisection over runs: the operator's "what
 * bandwidth does this VM need to converge?".
 *
 * Bisection assumes the goal is monotone in the knob: met at every value
 * above the threshold and at none below. That is what one expects of
 * bandwidth or a downtime limit, but not what a simulation must give:
 * pre-copy's pass structure makes downtime jump as a pass more or less
 * fits (the dirty set at a CLEAN is a step function of the pass's
 * length). So the assumption is checked, not trusted: after bisecting,
 * a few values on each side of the answer are run too, and any run that
 * contradicts the threshold (met below it, missed above it) is reported,
 * the answer then being only the smallest value bisection found.
 *
 * Values are bisected on a log scale (a knob spans orders of magnitude:
 * 10 Mbit to 100 Gbit) and are whole numbers (ns, bytes/s).
 */
export interface Probe<R> {
  readonly value: number;
  readonly met: boolean;
  readonly result: R;
  /** Why the run was made: the range's ends, a bisection step, or a monotonicity check. */
  readonly role: 'low end' | 'high end' | 'bisection' | 'check';
}

export interface ThresholdAnswer<R> {
  /** The smallest value found that meets the goal; undefined when even the high end does not. */
  readonly value: number | undefined;
  /** The largest value found that does not (the answer lies in (below, value]). */
  readonly below: number | undefined;
  readonly probes: readonly Probe<R>[];
  /** Runs that contradict a threshold at `value` (empty: the runs are monotone). */
  readonly contradictions: readonly Probe<R>[];
}

export interface BisectOptions {
  readonly low: number;
  readonly high: number;
  /** Stop when high/low is at most 1 + this (0.01: within 1%). */
  readonly tolerance: number;
  /** Values run on each side of the answer to check monotonicity. */
  readonly checks: number;
}

export function bisectThreshold<R>(opts: BisectOptions, run: (value: number) => { met: boolean; result: R }): ThresholdAnswer<R> {
  const probes: Probe<R>[] = [];
  const probe = (value: number, role: Probe<R>['role']): Probe<R> => {
    const r = run(value);
    const p = { value, met: r.met, result: r.result, role };
    probes.push(p);
    return p;
  };
  const hi = probe(opts.high, 'high end');
  if (!hi.met) return { value: undefined, below: opts.high, probes, contradictions: [] };
  const lo = probe(opts.low, 'low end');
  if (lo.met) return { value: opts.low, below: undefined, probes, contradictions: [] };
  let below = opts.low;
  let above = opts.high;
  while (above / below > 1 + opts.tolerance) {
    const mid = Math.round(Math.sqrt(below * above));
    if (mid <= below || mid >= above) break;
    if (probe(mid, 'bisection').met) above = mid;
    else below = mid;
  }
  // Log-spaced checks between the ends and the answer, away from the last step.
  for (let i = 1; i <= opts.checks; i++) {
    const f = i / (opts.checks + 1);
    const up = Math.round(above * (opts.high / above) ** f);
    const down = Math.round(below * (opts.low / below) ** f);
    if (up > above && up < opts.high) probe(up, 'check');
    if (down < below && down > opts.low) probe(down, 'check');
  }
  const contradictions = probes.filter((p) => (p.value >= above && !p.met) || (p.value <= below && p.met));
  return { value: above, below, probes, contradictions };
}
