import { checkTraceTarget, isWorkloadName } from '../../api/guest-target.js';
import type { GuestSource } from '../../api/guest-source.js';
import { traceSource } from '../../api/trace-source.js';
import { workloadSource } from '../../api/workload-source.js';
import { DEFAULT_COSTS } from '../../model/cost-model.js';
import { loadCostModel } from '../../model/cost-model-file.js';
import { formatDurationNs } from '../../model/units.js';
import type { CliContext } from '../cli-io.js';
import { chooseSeed } from '../choose-seed.js';
import { migrationFromCli } from '../commands/migration-cli-options.js';
import { kvmFromCli, type TrackerRunCliOptions, type TrackerRunInputs } from '../commands/run-command.js';
import { UsageError } from '../usage-error.js';

/**
 * trackerRunInputs (src/cli/actions/tracker-run-inputs.ts) for the sweep's
 * workers and the solver, which build many runs' inputs in a loop without
 * awaiting: the same checks and options, the trace reader and the cost
 * file's schema imported up front instead of on demand.
 */
export function trackerRunInputsSync(ctx: CliContext, target: string, opts: TrackerRunCliOptions): TrackerRunInputs {
  const workload = { seed: chooseSeed(opts.seed), durationNs: opts.duration, memBytes: opts.mem, vcpus: opts.vcpus, guest: opts.guest, paging: opts.paging, settings: opts.set ?? {} };
  let source: GuestSource;
  if (isWorkloadName(target)) source = workloadSource(target, workload);
  else {
    checkTraceTarget(target);
    source = traceSource(target);
  }
  const costs = opts.costs ? loadCostModel(opts.costs) : DEFAULT_COSTS;
  if (!opts.json) ctx.io.err(`seed ${source.header.workload.seed}\n`);
  const guestNs = source.header.workload.durationNs;
  const migration = migrationFromCli(opts, guestNs);
  if (migration.startNs! >= guestNs) {
    throw new UsageError(`--start ${formatDurationNs(migration.startNs!)} is at or after the guest's end (${formatDurationNs(guestNs)} of guest events): nothing would run; give a --start below that, or a longer --duration`);
  }
  const runOptions = { superpages: opts.superpages, p2m: opts.p2m, costs, migration, shadowOos: Boolean(opts.shadowOos), kvm: kvmFromCli(opts) };
  return { source, runOptions };
}
