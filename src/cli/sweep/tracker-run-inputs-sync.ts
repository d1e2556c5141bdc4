import { checkTraceTarget, isWorkloadName } from '../../api/guest-target.js';
import type { GuestSource } from '../../api/guest-source.js';
import { traceSource } from '../../api/trace-source.js';
import { workloadSource } from '../../api/workload-source.js';
import { DEFAULT_COSTS } from '../../model/cost-model.js';
import { loadCostModel } from '../../model/cost-model-file.js';
import { runInputsOf } from '../actions/tracker-run-inputs.js';
import type { CliContext } from '../cli-io.js';
import { chooseSeed } from '../choose-seed.js';
import type { TrackerRunCliOptions, TrackerRunInputs } from '../commands/run-command.js';

/**
 * trackerRunInputs (src/cli/actions/tracker-run-inputs.ts) for the sweep's
 * workers and the solver, which build many runs' inputs in a loop without
 * awaiting: the trace reader and the cost file's schema imported up front
 * instead of on demand, the rest shared (runInputsOf).
 */
export function trackerRunInputsSync(ctx: CliContext, target: string, opts: TrackerRunCliOptions): TrackerRunInputs {
  const workload = { seed: chooseSeed(opts.seed), durationNs: opts.duration, memBytes: opts.mem, vcpus: opts.vcpus, guest: opts.guest, paging: opts.paging, settings: opts.set ?? {} };
  let source: GuestSource;
  if (isWorkloadName(target)) source = workloadSource(target, workload);
  else {
    checkTraceTarget(target);
    source = traceSource(target);
  }
  return runInputsOf(ctx, opts, source, opts.costs ? loadCostModel(opts.costs) : DEFAULT_COSTS);
}
