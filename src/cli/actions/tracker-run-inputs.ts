import { checkTraceTarget, isWorkloadName } from '../../api/guest-target.js';
import { workloadSource } from '../../api/workload-source.js';
import { type CostModel, DEFAULT_COSTS } from '../../model/cost-model.js';
import { formatDurationNs } from '../../model/units.js';
import { hostPagePages } from '../../reducers/migration/migration-options.js';
import type { CliContext } from '../cli-io.js';
import { UsageError } from '../usage-error.js';
import { chooseSeed } from '../choose-seed.js';
import { migrationCliProblem, migrationFromCli } from '../commands/migration-cli-options.js';
import { kvmFromCli } from '../commands/run-command.js';
import type { TrackerRunCliOptions, TrackerRunInputs } from '../commands/run-command.js';
import type { GuestSource } from '../../api/guest-source.js';
import { guardedSource, memoryGuardOf } from '../memory-guard.js';

/**
 * The guest events a tracker-running command migrates, and the run options
 * its flags give (all but the tracker). The seed is printed first, unless
 * the command prints JSON, so every run can be reproduced. The trace
 * reader and the cost file's schema (msgpackr, zod) are loaded only when a
 * trace or a --costs file is given: a workload run with the defaults needs
 * neither.
 */
export async function trackerRunInputs(ctx: CliContext, target: string, opts: TrackerRunCliOptions): Promise<TrackerRunInputs> {
  const workload = { seed: chooseSeed(opts.seed), durationNs: opts.duration, memBytes: opts.mem, vcpus: opts.vcpus, guest: opts.guest, paging: opts.paging, settings: opts.set ?? {} };
  let source: GuestSource;
  if (isWorkloadName(target)) source = workloadSource(target, workload);
  else {
    checkTraceTarget(target);
    source = (await import('../../api/trace-source.js')).traceSource(target);
  }
  const costs = opts.costs ? (await import('../../model/cost-model-file.js')).loadCostModel(opts.costs) : DEFAULT_COSTS;
  // Stopped with one line before the system would kill it for memory (a multi-TiB guest that maps its memory).
  return runInputsOf(ctx, opts, guardedSource(source, memoryGuardOf(ctx)), costs);
}

/** The rest of trackerRunInputs once the guest source and cost model are there: the seed printed, the start checked, the run options. */
export function runInputsOf(ctx: CliContext, opts: TrackerRunCliOptions, source: GuestSource, costs: CostModel): TrackerRunInputs {
  if (!opts.json) ctx.io.err(`seed ${source.header.workload.seed}\n`);
  const guestNs = source.header.workload.durationNs;
  const migration = migrationFromCli(opts, guestNs);
  // A comparison across policies applies each flag where it means something (as --auto-converge).
  const problem = (opts as { policies?: unknown }).policies === undefined ? migrationCliProblem(migration) : undefined;
  if (problem) throw new UsageError(problem);
  const hostPages = hostPagePages(migration);
  const memPages = source.header.guest.memPages;
  if (hostPages > 1 && memPages % hostPages !== 0) {
    // QEMU's hugetlbfs backend takes RAM in whole host pages (the memory size must be a multiple of the page size).
    throw new UsageError(`--host-page-size ${migration.hostPageSize} needs guest memory in whole ${migration.hostPageSize === '1g' ? '1 GiB' : '2 MiB'} pages (hugetlbfs backs RAM in whole pages): the guest has ${memPages} 4 KiB pages; give --mem a multiple of ${migration.hostPageSize === '1g' ? '1GiB' : '2MiB'}`);
  }
  if (migration.startNs! >= guestNs) {
    throw new UsageError(`--start ${formatDurationNs(migration.startNs!)} is at or after the guest's end (${formatDurationNs(guestNs)} of guest events): nothing would run; give a --start below that, or a longer --duration`);
  }
  const runOptions = { superpages: opts.superpages, p2m: opts.p2m, costs, migration, shadowOos: Boolean(opts.shadowOos), kvm: kvmFromCli(opts) };
  return { source, runOptions };
}

