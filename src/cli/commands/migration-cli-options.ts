import { type Command, InvalidArgumentError } from 'commander';
import { AFTER_END_MODES, type AfterEnd, DEFAULT_MIGRATION, HOST_PAGE_SIZES, type HostPageSize, MAX_AFTER_END_LOOPS, type MigrationOptions, POLICY_NAMES, type PolicyName } from '../../reducers/migration/migration-options.js';
import { bandwidthInput, durationInput } from '../../model/units.js';
import { humanDefault } from '../human-default.js';
import { addDataPathOptions, type DataPathCliOptions, dataPathFromCli } from './data-path-cli-options.js';
import { bandwidthOption, choiceOption, durationOption, percentOption, positiveIntOption, positiveNumberOption, sizeOption, timeOption } from '../parse-options.js';

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
  postcopyPreempt?: boolean;
  maxPostcopyBandwidth?: number;
  hostPageSize?: HostPageSize;
  deviceState?: number;
  devicePrecopy?: number;
  deviceLoad?: number;
  switchoverAck?: boolean;
  availSwitchoverBandwidth?: number;
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
    )
    .option('--postcopy-preempt', 'post-copy (postcopy, or qemu switched by a controller): QEMU 8 postcopy-preempt, requested pages on a channel of their own instead of queued behind the background stream')
    .option('--max-postcopy-bandwidth <rate>', "post-copy: QEMU's max-postcopy-bandwidth, the background stream's cap after the switch (default: none)", bandwidthOption)
    .option('--host-page-size <size>', `post-copy: host page size of guest RAM (${HOST_PAGE_SIZES.join(', ')}; 2m and 1g are hugetlbfs): a fault waits for its whole host page (default 4k)`, choiceOption('--host-page-size', HOST_PAGE_SIZES))
    .option('--device-state <bytes>', "device state sent while the guest is stopped (default: the cost model's deviceStateBytes); its transfer shows in the downtime", sizeOption)
    .option('--device-precopy <bytes>', "qemu: devices' pre-copy data (VFIO initial data), sent at the start of the live phase and loaded by the destination in --device-load", sizeOption)
    .option('--device-load <time>', "qemu: time the destination takes to load the devices' pre-copy data", durationOption)
    .option('--switchover-ack', "qemu: QEMU 8.1 switchover-ack, the source does not stop until the destination acknowledges the devices' pre-copy data is loaded")
    .option('--avail-switchover-bandwidth <rate>', "qemu: QEMU 8.2 avail-switchover-bandwidth, used instead of the measured bandwidth for the switch-over threshold", bandwidthOption);
  return addDataPathOptions(cmd);
}

/** A combination the options cannot take, as one line naming the flags, or undefined. */
export function migrationCliProblem(m: Partial<MigrationOptions>): string | undefined {
  const postcopy = m.policy === 'postcopy' || m.policy === 'qemu';
  if (!postcopy) {
    if (m.postcopyPreempt) return '--postcopy-preempt needs --policy postcopy or qemu (the policies with a post-copy phase)';
    if (m.maxPostcopyBandwidthBytesPerSec !== undefined) return '--max-postcopy-bandwidth needs --policy postcopy or qemu (the policies with a post-copy phase)';
    if (m.hostPageSize !== undefined) return '--host-page-size needs --policy postcopy or qemu (it shapes the post-copy phase)';
  }
  if (m.policy !== 'qemu') {
    if (m.switchoverAck) return "--switchover-ack needs --policy qemu (it is QEMU's capability)";
    if (m.devicePrecopyBytes !== undefined) return '--device-precopy needs --policy qemu (VFIO pre-copy data is QEMU\'s)';
    if (m.deviceLoadNs !== undefined) return '--device-load needs --policy qemu';
    if (m.availSwitchoverBandwidthBytesPerSec !== undefined) return "--avail-switchover-bandwidth needs --policy qemu (it is QEMU's parameter)";
  }
  if (m.deviceLoadNs !== undefined && m.devicePrecopyBytes === undefined) return '--device-load needs --device-precopy (the data the destination loads)';
  return undefined;
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
    // QEMU's post-copy and device options: absent unless given, so a run without them is the run it always was.
    ...(o.postcopyPreempt ? { postcopyPreempt: true } : {}),
    ...(o.maxPostcopyBandwidth !== undefined ? { maxPostcopyBandwidthBytesPerSec: o.maxPostcopyBandwidth } : {}),
    ...(o.hostPageSize !== undefined ? { hostPageSize: o.hostPageSize } : {}),
    ...(o.deviceState !== undefined ? { deviceStateBytes: o.deviceState } : {}),
    ...(o.devicePrecopy !== undefined ? { devicePrecopyBytes: o.devicePrecopy } : {}),
    ...(o.deviceLoad !== undefined ? { deviceLoadNs: o.deviceLoad } : {}),
    ...(o.switchoverAck ? { switchoverAck: true } : {}),
    ...(o.availSwitchoverBandwidth !== undefined ? { availSwitchoverBandwidthBytesPerSec: o.availSwitchoverBandwidth } : {}),
  };
}
