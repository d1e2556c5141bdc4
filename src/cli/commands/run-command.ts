import type { Command } from 'commander';
import { P2M_PAGE_SIZES, type P2mPageSize, SUPERPAGE_POLICIES, type SuperpagePolicy, TRACKER_NAMES, type TrackerName } from '../../reducers/tracker.js';
import { bandwidthOption, choiceOption, positiveIntOption, positiveNumberOption } from '../parse-options.js';
import { InvalidArgumentError } from 'commander';
import { humanDefault } from '../human-default.js';
import { CLEAR_BITMAP_SHIFT_MAX, CLEAR_BITMAP_SHIFT_MIN, DEFAULT_KVM, DIRTY_RING_MAX_ENTRIES, DIRTY_RING_MIN_ENTRIES, dirtyRingSizeProblem, type KvmOptions } from '../../reducers/kvm-options.js';
import { addMigrationOptions, type MigrationCliOptions } from './migration-cli-options.js';
import type { MigrationRunOptions } from '../../api/run-migration.js';
import type { GuestSource } from '../../api/guest-source.js';
import type { CliContext } from '../cli-io.js';
import { addWorkloadOptions, type GuestCliOptions } from './record-command.js';

export interface TrackerCliOptions {
  superpages: SuperpagePolicy;
  p2m: P2mPageSize;
  costs?: string;
  shadowOos?: boolean;
  manualProtect: boolean;
  clearBitmapShift: number;
  eagerPageSplit: boolean;
  dirtyRingSize: number;
  dirtyLimit?: number;
}

/** Options every tracker-running command shares. */
/** QEMU's vcpu-dirty-limit is in MB/s of 2^20 bytes (system/dirtylimit.c computes rates as pages x page size >> 20). */
const MIB = 1 << 20;

/** A plain number is MB/s, as QEMU's vcpu-dirty-limit; a rate with a unit is taken as written. */
function dirtyLimitOption(s: string): number {
  const plain = /^\s*[0-9.e+_]+\s*$/i.test(s);
  const bytesPerSec = plain ? Math.round(positiveNumberOption(s) * MIB) : bandwidthOption(s);
  if (!(bytesPerSec >= MIB)) throw new InvalidArgumentError(`must be at least 1 MB/s (QEMU's vcpu-dirty-limit is a whole number of MB/s from 1), got '${s}'`);
  return bytesPerSec;
}

function ringSizeOption(s: string): number {
  const n = positiveIntOption(s);
  const bad = dirtyRingSizeProblem(n);
  if (bad) throw new InvalidArgumentError(bad);
  return n;
}

function clearShiftOption(s: string): number {
  const n = positiveIntOption(s);
  if (n < CLEAR_BITMAP_SHIFT_MIN || n > CLEAR_BITMAP_SHIFT_MAX) throw new InvalidArgumentError(`must be from ${CLEAR_BITMAP_SHIFT_MIN} to ${CLEAR_BITMAP_SHIFT_MAX} (QEMU's clear-bitmap-shift), got ${n}`);
  return n;
}

/** Options every tracker-running command shares. */
export function addTrackerOptions(cmd: Command): Command {
  return cmd
    .option('--superpages <policy>', `PML superpage policy: ${SUPERPAGE_POLICIES.join(', ')}`, choiceOption('--superpages', SUPERPAGE_POLICIES), 'split')
    .option('--p2m <size>', `HVM p2m backing: ${P2M_PAGE_SIZES.join(', ')} (Xen: 2m where aligned)`, choiceOption('--p2m', P2M_PAGE_SIZES), '2m')
    .option('--costs <file.json>', "override cost-model defaults (names as in src/model/cost-model.ts); shadowPoolPages sets the shadow pool, by default libxl's paging pool for the guest's memory and vCPUs")
    .option('--shadow-oos', "shadow: Xen's out-of-sync L1 optimisation (HVM guests)")
    .option('--no-manual-protect', 'kvm-wp, kvm-pml: KVM_GET_DIRTY_LOG re-protects at every sync, without KVM_CLEAR_DIRTY_LOG (default: manual protect with initially-set, as QEMU asks)')
    .option('--clear-bitmap-shift <n>', `kvm-wp, kvm-pml with manual protect: pages per KVM_CLEAR_DIRTY_LOG chunk as a power of two (QEMU's clear-bitmap-shift, ${CLEAR_BITMAP_SHIFT_MIN} to ${CLEAR_BITMAP_SHIFT_MAX})`, clearShiftOption, DEFAULT_KVM.clearBitmapShift)
    .option('--no-eager-page-split', "kvm-*: KVM's eager_page_split off: huge pages split on their first write, not when logging starts (or when cleared)")
    .addOption(humanDefault('--dirty-ring-size <n>', `kvm-ring: entries per vCPU ring, a power of two from ${DIRTY_RING_MIN_ENTRIES} to ${DIRTY_RING_MAX_ENTRIES}`, ringSizeOption, DEFAULT_KVM.dirtyRingSize, `${DEFAULT_KVM.dirtyRingSize} entries`))
    .option('--dirty-limit <MB/s>', "kvm-ring with --policy qemu: QEMU's dirty-limit, each vCPU's dirty rate held to this (vcpu-dirty-limit; a plain number is MB/s)", dirtyLimitOption);
}

/** The KVM options the flags give. */
export function kvmFromCli(o: TrackerCliOptions): KvmOptions {
  return { manualProtect: o.manualProtect !== false, clearBitmapShift: o.clearBitmapShift, eagerPageSplit: o.eagerPageSplit !== false, dirtyRingSize: o.dirtyRingSize, dirtyLimitBytesPerSec: o.dirtyLimit ?? 0 };
}

/** The flags of a command that migrates guest events under trackers: run, compare, report --compare. */
export type TrackerRunCliOptions = GuestCliOptions & TrackerCliOptions & MigrationCliOptions & { json?: boolean };

/** The guest source a run command names, and everything of its run request but the tracker. */
export interface TrackerRunInputs {
  readonly source: GuestSource;
  readonly runOptions: Omit<MigrationRunOptions, 'tracker'>;
}

export type RunCliOptions = TrackerRunCliOptions & { tracker: TrackerName; round?: string; record?: string };

function addTrackerChoice(cmd: Command): Command {
  return cmd.requiredOption('--tracker <name>', `tracker: ${TRACKER_NAMES.join(', ')}`, choiceOption('--tracker', TRACKER_NAMES));
}

/** The options of one migration run: `run` takes them as flags, a sweep's grid as keys (src/cli/sweep/sweep-runs.ts). */
export function addRunOptions(cmd: Command): Command {
  addTrackerChoice(cmd);
  addTrackerOptions(cmd);
  addMigrationOptions(cmd);
  return addWorkloadOptions(cmd);
}

export function registerRun(program: Command, ctx: CliContext): void {
  const cmd = program
    .command('run')
    .description('migrate a trace or workload under a dirty-page tracker and a policy (or, with --round, run fixed log-dirty rounds)')
    .argument('<trace|workload>', 'a trace file, or a built-in workload name (then the record options apply)');
  addTrackerChoice(cmd)
    .option('--round <time>', 'no migration: log-dirty rounds of this length (CLEAN interval), from --start')
    .option('--record <run.mst>', 'write the guest and run events to a run trace (replay with migsim replay --verify)')
    .option('--json', 'print the summary as JSON');
  addTrackerOptions(cmd);
  addMigrationOptions(cmd);
  addWorkloadOptions(cmd);
  cmd.action(async (target: string, opts: RunCliOptions) => (await import('../actions/run-action.js')).runAction(ctx, target, opts));
}

