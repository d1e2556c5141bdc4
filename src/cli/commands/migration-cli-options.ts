import { type Command, InvalidArgumentError } from 'commander';
import { AFTER_END_MODES, type AfterEnd, DEFAULT_MIGRATION, MAX_AFTER_END_LOOPS, type MigrationOptions, POLICY_NAMES, type PolicyName } from '../../reducers/migration/migration-options.js';
import { bandwidthInput, durationInput } from '../../model/units.js';
import { humanDefault } from '../human-default.js';
import { addDataPathOptions, type DataPathCliOptions, dataPathFromCli } from './data-path-cli-options.js';
import { bandwidthOption, choiceOption, durationOption, percentOption, positiveIntOption, positiveNumberOption, timeOption } from '../parse-options.js';

export interface MigrationCliOptions extends DataPathCliOptions {
  policy: PolicyName;
  start?: number;
  bandwidth: number;
  maxBandwidth: number;
  downtimeLimit: number;
  autoConverge?: boolean;
  throttleInitial: number;
  throttleIncrement: number;
  throttleTailslow?: boolean;
  maxCpuThrottle: number;
  maxIters?: number;
  maxFactor: number;
  epoch: number;
  postcopyAfter: number;
  afterEnd: AfterEnd;
}

/** Remus's interval: xl remus takes it in whole milliseconds, and each epoch pauses the guest for milliseconds. */
function epochOption(s: string): number {
  const ns = durationOption(s);
  if (ns < 1_000_000) throw new InvalidArgumentError(`must be at least 1ms, got '${s}'`);
  return ns;
}

/** The policy knobs of `run` and `compare`, with the real systems' defaults. */
export function addMigrationOptions(cmd: Command): Command {
  cmd
    .option('--policy <name>', `migration policy: ${POLICY_NAMES.join(', ')}`, choiceOption('--policy', POLICY_NAMES), 'xen')
    .option('--start <time>', 'wall time the migration starts (default: half of the guest events\' duration, so the guest has been running a while)', timeOption)
    .addOption(humanDefault('--bandwidth <rate>', 'link bandwidth (1Gbit, 10Gbit, 500MiB/s)', bandwidthOption, DEFAULT_MIGRATION.bandwidthBytesPerSec, bandwidthInput(DEFAULT_MIGRATION.bandwidthBytesPerSec)))
    .addOption(humanDefault('--max-bandwidth <rate>', 'qemu: max-bandwidth for live sending', bandwidthOption, DEFAULT_MIGRATION.maxBandwidthBytesPerSec, bandwidthInput(DEFAULT_MIGRATION.maxBandwidthBytesPerSec)))
    .addOption(humanDefault('--downtime-limit <time>', 'qemu: downtime-limit', durationOption, DEFAULT_MIGRATION.downtimeLimitNs, durationInput(DEFAULT_MIGRATION.downtimeLimitNs)))
    .option('--auto-converge', 'qemu: throttle the guest when it dirties faster than we send')
    .option('--throttle-initial <pct>', 'qemu auto-converge: cpu-throttle-initial, percent', percentOption, DEFAULT_MIGRATION.throttleInitialPct)
    .option('--throttle-increment <pct>', 'qemu auto-converge: cpu-throttle-increment, percent', percentOption, DEFAULT_MIGRATION.throttleIncrementPct)
    .option('--throttle-tailslow', 'qemu auto-converge: cpu-throttle-tailslow (smaller steps near the threshold)')
    .option('--max-cpu-throttle <pct>', 'qemu auto-converge: max-cpu-throttle, percent', percentOption, DEFAULT_MIGRATION.maxThrottlePct)
    .option('--max-iters <n>', 'live passes before stop-and-copy (xen: 5, xen-legacy: 29)', positiveIntOption)
    .option('--max-factor <x>', 'xen-legacy: stop after sending this many times memory', positiveNumberOption, DEFAULT_MIGRATION.maxFactor)
    .addOption(humanDefault('--epoch <time>', 'remus: checkpoint interval', epochOption, DEFAULT_MIGRATION.epochNs, durationInput(DEFAULT_MIGRATION.epochNs)))
    .option('--postcopy-after <n>', 'postcopy: live passes before switching', positiveIntOption, DEFAULT_MIGRATION.postcopyAfterPasses)
    .option(
      '--after-end <mode>',
      `when the guest's events end before the migration (${AFTER_END_MODES.join('|')}): idle (the guest runs on, writing nothing), loop (its events run again, shifted by their span, up to ${MAX_AFTER_END_LOOPS} times) or stop (the run ends, incomplete)`,
      choiceOption('--after-end', AFTER_END_MODES),
      DEFAULT_MIGRATION.afterEnd,
    );
  return addDataPathOptions(cmd);
}

/** The migration options the flags give; `durationNs` (the guest events' length) sets the default start. */
export function migrationFromCli(o: MigrationCliOptions, durationNs = 0): Partial<MigrationOptions> {
  return {
    policy: o.policy,
    startNs: o.start ?? Math.floor(durationNs / 2),
    bandwidthBytesPerSec: o.bandwidth,
    maxBandwidthBytesPerSec: o.maxBandwidth,
    downtimeLimitNs: o.downtimeLimit,
    autoConverge: Boolean(o.autoConverge),
    throttleInitialPct: o.throttleInitial,
    throttleIncrementPct: o.throttleIncrement,
    throttleTailslow: Boolean(o.throttleTailslow),
    maxThrottlePct: o.maxCpuThrottle,
    ...(o.maxIters !== undefined ? { maxIters: o.maxIters } : {}),
    maxFactor: o.maxFactor,
    epochNs: o.epoch,
    postcopyAfterPasses: o.postcopyAfter,
    afterEnd: o.afterEnd,
    ...dataPathFromCli(o),
  };
}
