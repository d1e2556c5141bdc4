import type { RunSpec } from '../api/record-run.js';
import { DEFAULT_COSTS } from '../model/cost-model.js';
import { DEFAULT_MIGRATION } from '../reducers/migration/migration-options.js';
import type { TraceHeader } from '../trace/trace-records.js';

/**
 * The command lines that reproduce a run, built from what the trace header
 * records (workload, parameters, seed, guest, tracker, policy), so a report
 * read months later still says exactly how to get the same numbers. Every
 * value is written in a unit the CLI parses back to the same integer.
 */

/** The CLI argument that names the guest events: the workload, or the file they were imported from. */
function guestTarget(header: TraceHeader, fallback: string): string {
  if (header.source) return String(header.source['file'] ?? fallback);
  return header.workload.name;
}

/** `migsim run` with the run's workload, guest and migration options. */
export function runCommandLine(header: TraceHeader, spec: RunSpec, recordTo?: string): string {
  const args = ['migsim', 'run', guestTarget(header, 'TRACE.mst'), '--tracker', spec.tracker, ...workloadArgs(header), ...specArgs(spec)];
  if (recordTo !== undefined) args.push('--record', recordTo);
  return args.map(shellQuote).join(' ');
}

/** `migsim compare` (or `migsim report --compare ... -o OUT`) over the same guest under several trackers. */
export function compareCommandLine(header: TraceHeader, spec: RunSpec, trackers: readonly string[], reportTo?: string, axes: ReportAxes = {}): string {
  const head = reportTo !== undefined ? ['migsim', 'report', '--compare'] : ['migsim', 'compare'];
  // Workloads side by side: each has its own parameters (their defaults).
  const guest = axes.workloads ? ['--workloads', axes.workloads.join(','), ...workloadArgs(header).filter((_a, i, all) => all[i] !== '--set' && all[i - 1] !== '--set')] : [guestTarget(header, 'TRACE.mst'), ...workloadArgs(header)];
  let rest = specArgs(spec);
  if (axes.policies) rest = dropFlag(rest, '--policy');
  if (axes.bandwidths) rest = dropFlag(rest, '--bandwidth');
  const args = [...head, ...guest, '--trackers', trackers.join(','), ...rest];
  if (axes.policies) args.push('--policies', axes.policies.join(','));
  if (axes.bandwidths) args.push('--bandwidths', axes.bandwidths.map(bandwidthArg).join(','));
  if (axes.window) args.push('--window', axes.window);
  if (reportTo !== undefined) args.push('-o', reportTo);
  return args.map(shellQuote).join(' ');
}

/** The axes of a report's comparison besides the trackers, and its window, as given. */
export interface ReportAxes {
  readonly workloads?: readonly string[];
  readonly policies?: readonly string[];
  readonly bandwidths?: readonly number[];
  readonly window?: string;
}

/** True when the run used a cost model other than this version's defaults. */
export function hasCustomCosts(spec: RunSpec): boolean {
  return JSON.stringify(spec.costs) !== JSON.stringify(DEFAULT_COSTS);
}

function workloadArgs(h: TraceHeader): string[] {
  if (h.source) return []; // an imported trace carries its own guest
  const w = h.workload;
  const args = ['--seed', String(w.seed), '--duration', durationArg(w.durationNs), '--mem', sizeArg(h.guest.memPages * 4096), '--vcpus', String(h.guest.vcpus), '--guest', h.guest.type, '--paging', h.guest.paging];
  for (const [k, v] of Object.entries(w.params)) args.push('--set', `${k}=${v}`);
  return args;
}

function specArgs(spec: RunSpec): string[] {
  const m = spec.migration;
  const d = DEFAULT_MIGRATION;
  const args = ['--policy', m.policy];
  // Always explicit: the default start depends on the guest events' duration.
  args.push('--start', durationArg(m.startNs));
  if (m.bandwidthBytesPerSec !== d.bandwidthBytesPerSec) args.push('--bandwidth', bandwidthArg(m.bandwidthBytesPerSec));
  if (m.maxBandwidthBytesPerSec !== d.maxBandwidthBytesPerSec) args.push('--max-bandwidth', bandwidthArg(m.maxBandwidthBytesPerSec));
  if (m.downtimeLimitNs !== d.downtimeLimitNs) args.push('--downtime-limit', durationArg(m.downtimeLimitNs));
  if (m.autoConverge) args.push('--auto-converge');
  if (m.maxIters !== undefined) args.push('--max-iters', String(m.maxIters));
  if (m.maxFactor !== d.maxFactor) args.push('--max-factor', String(m.maxFactor));
  if (m.epochNs !== d.epochNs) args.push('--epoch', durationArg(m.epochNs));
  if (m.postcopyAfterPasses !== d.postcopyAfterPasses) args.push('--postcopy-after', String(m.postcopyAfterPasses));
  if (m.postcopyPreempt) args.push('--postcopy-preempt');
  if (m.maxPostcopyBandwidthBytesPerSec !== undefined) args.push('--max-postcopy-bandwidth', bandwidthArg(m.maxPostcopyBandwidthBytesPerSec));
  if (m.hostPageSize !== undefined) args.push('--host-page-size', m.hostPageSize);
  if (m.deviceStateBytes !== undefined) args.push('--device-state', String(m.deviceStateBytes));
  if (m.devicePrecopyBytes !== undefined) args.push('--device-precopy', String(m.devicePrecopyBytes));
  if (m.deviceLoadNs !== undefined) args.push('--device-load', durationArg(m.deviceLoadNs));
  if (m.switchoverAck) args.push('--switchover-ack');
  if (m.availSwitchoverBandwidthBytesPerSec !== undefined) args.push('--avail-switchover-bandwidth', bandwidthArg(m.availSwitchoverBandwidthBytesPerSec));
  if (spec.superpages !== 'split') args.push('--superpages', spec.superpages);
  if (spec.shadowOos) args.push('--shadow-oos');
  if (spec.p2m !== '2m') args.push('--p2m', spec.p2m);
  if (hasCustomCosts(spec)) args.push('--costs', 'COSTS.json');
  return args;
}

/** The arguments without `flag` and its value. */
function dropFlag(args: readonly string[], flag: string): string[] {
  const i = args.indexOf(flag);
  return i < 0 ? [...args] : [...args.slice(0, i), ...args.slice(i + 2)];
}

function durationArg(ns: number): string {
  for (const [unit, scale] of [
    ['s', 1e9],
    ['ms', 1e6],
    ['us', 1e3],
  ] as const) {
    if (ns !== 0 && ns % scale === 0) return `${ns / scale}${unit}`;
  }
  return `${ns}ns`;
}

function sizeArg(bytes: number): string {
  for (const [unit, scale] of [
    ['GiB', 1024 ** 3],
    ['MiB', 1024 ** 2],
    ['KiB', 1024],
  ] as const) {
    if (bytes % scale === 0) return `${bytes / scale}${unit}`;
  }
  return String(bytes);
}

function bandwidthArg(bytesPerSec: number): string {
  if ((bytesPerSec * 8) % 1e9 === 0) return `${(bytesPerSec * 8) / 1e9}Gbit`;
  if ((bytesPerSec * 8) % 1e6 === 0) return `${(bytesPerSec * 8) / 1e6}Mbit`;
  if (bytesPerSec % 1024 ** 2 === 0) return `${bytesPerSec / 1024 ** 2}MiB/s`;
  return `${bytesPerSec}B/s`;
}

/** POSIX shell quoting: bare when safe, else single quotes. */
export function shellQuote(arg: string): string {
  return /^[A-Za-z0-9_./:=,@%+-]+$/.test(arg) ? arg : `'${arg.replace(/'/g, `'\\''`)}'`;
}
