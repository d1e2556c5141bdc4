import { guestSource } from '../../api/guest-source.js';
import { DEFAULT_COSTS, loadCostModel } from '../../model/cost-model.js';
import { formatDurationNs } from '../../model/units.js';
import type { CliContext } from '../cli-io.js';
import { UsageError } from '../usage-error.js';
import { chooseSeed } from '../choose-seed.js';
import { migrationFromCli } from '../commands/migration-cli-options.js';
import type { TrackerRunCliOptions, TrackerRunInputs } from '../commands/run-command.js';

/**
 * The guest events a tracker-running command migrates, and the run options
 * its flags give (all but the tracker). The seed is printed first, unless
 * the command prints JSON, so every run can be reproduced.
 */
export function trackerRunInputs(ctx: CliContext, target: string, opts: TrackerRunCliOptions): TrackerRunInputs {
  const source = guestSource(target, { seed: chooseSeed(opts.seed), durationNs: opts.duration, memBytes: opts.mem, vcpus: opts.vcpus, guest: opts.guest, paging: opts.paging, settings: opts.set ?? {} });
  const costs = opts.costs ? loadCostModel(opts.costs) : DEFAULT_COSTS;
  if (!opts.json) ctx.io.err(`seed ${source.header.workload.seed}\n`);
  const guestNs = source.header.workload.durationNs;
  const migration = migrationFromCli(opts, guestNs);
  if (migration.startNs! >= guestNs) {
    throw new UsageError(`--start ${formatDurationNs(migration.startNs!)} is at or after the guest's end (${formatDurationNs(guestNs)} of guest events): nothing would run; give a --start below that, or a longer --duration`);
  }
  const runOptions = { superpages: opts.superpages, p2m: opts.p2m, costs, migration, shadowOos: Boolean(opts.shadowOos) };
  return { source, runOptions };
}

