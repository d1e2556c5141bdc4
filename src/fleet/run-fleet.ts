import { DEFAULT_MIGRATION, type MigrationOptions } from '../reducers/migration/migration-options.js';
import type { ContentMix } from '../reducers/migration/page-contents.js';
import type { SimulationSetup } from '../reducers/simulation.js';
import type { MigrationSummary } from '../reducers/summary.js';
import type { Controller, FleetEvent, FleetEventKind, FleetHandle } from './controllers/controller.js';
import { FleetMember, type GuestPull, type MemberRecorder } from './fleet-member.js';
import type { PlannedMigration, Scenario, VmSpec } from './scenario-file.js';
import { SharedNetwork } from './shared-network.js';
import type { VmEnd } from './vm-inputs.js';
import { type FleetOutcome, VmMigration } from './vm-migration.js';

/** What the fleet needs to build one VM's run: its simulation's setup and its guest events. */
export interface FleetGuest {
  readonly setup: SimulationSetup;
  readonly pull: GuestPull;
  /** What its pages hold (the workload's or capture's mix), as `run` gives its policy (run-migration.ts). */
  readonly pageContents?: ContentMix;
}

export interface FleetRunOptions {
  readonly controller: Controller;
  /** Builds a VM's guest (only for VMs the plan migrates). */
  guest(vm: VmSpec): FleetGuest;
  /** The wall time reached and the migrations ended so far, now and then (for a progress bar). */
  onProgress?(wallNs: number, ended: number): void;
  /** A recorder of a VM's run (its run trace), if it is to be recorded. */
  recorder?(vm: VmSpec): MemberRecorder | undefined;
}

export interface FleetVmResult {
  readonly vm: string;
  readonly from: string;
  readonly to: string;
  readonly outcome: FleetOutcome;
  readonly reason: string;
  readonly requestedAtNs: number;
  /** -1: never started (the horizon came first). */
  readonly startedAtNs: number;
  readonly endedAtNs: number;
  readonly queuedNs: number;
  /** Start to end (completion, abort or the horizon). */
  readonly totalNs: number;
  /** The guest stopped: stop-and-copy (or the post-copy switch), and before it any pause by the controller. */
  readonly downtimeNs: number;
  readonly pausedAtNs: number;
  readonly postcopyAtNs: number;
  readonly bytesSent: number;
  /** The remaining bytes the controller read (query-migrate's ram remaining) at each of its reads: [wall ns, bytes]. */
  readonly readings: readonly (readonly [number, number])[];
  readonly summary?: MigrationSummary;
}

export interface LinkPeak {
  readonly link: string;
  readonly capacityBytesPerSec: number;
  readonly peakBytesPerSec: number;
  readonly atNs: number;
}

export interface FleetResult {
  readonly orchestrator: string;
  readonly seed: number;
  readonly vms: readonly FleetVmResult[];
  /** Wall time from the first request to the last migration's end: the drain time of an evacuation. */
  readonly makespanNs: number;
  readonly peaks: readonly LinkPeak[];
  readonly events: readonly FleetEvent[];
  /** Every recomputation of the shares: when, and bytes per second on each constraint. */
  readonly linkUse: { readonly constraints: readonly string[]; readonly changes: readonly { readonly atNs: number; readonly usedBytesPerSec: readonly number[] }[] };
}

/**
 * Runs a scenario: every migrated VM its own Simulation and policy, one
 * scheduler in wall time. At each step the earliest of (a plan line's
 * request, the controller's poll, a VM's next action) goes first; at the
 * same nanosecond requests come before polls, polls before VMs, and VMs in
 * the file's order (the tie rule). A VM's guest is folded only up to its
 * driver's next action, so whatever one VM's action changes (a share of a
 * link, a slot in the controller's queue) is seen by every action after
 * it in wall time and by none before. Deterministic: no clock, no
 * randomness beyond each workload's seed.
 */
export function runFleet(scenario: Scenario, o: FleetRunOptions): FleetResult {
  const network = new SharedNetwork(scenario.hosts, scenario.links);
  const events: FleetEvent[] = [];
  const planned = new Map<number, PlannedMigration>();
  for (const m of scenario.migrations) {
    if (!network.path(scenario.vms[m.vm]!.host, m.to)) {
      throw new Error(`no link joins host ${scenario.hosts[scenario.vms[m.vm]!.host]!.name} to ${scenario.hosts[m.to]!.name}`);
    }
    planned.set(m.vm, m);
  }
  const members = new Map<number, FleetMember>();
  const running: PlannedMigration[] = [];
  let nowNs = 0;
  const controller = o.controller;
  const note = (kind: FleetEventKind, vm: number, detail: string): void => {
    events.push({ atNs: nowNs, kind, vm: scenario.vms[vm]!.name, detail });
  };
  let ended = 0;
  let closing = false;
  const onEnd = (vm: number, atNs: number): void => {
    ended++;
    const m = planned.get(vm)!;
    running.splice(running.indexOf(m), 1);
    const mig = members.get(vm)!.migration;
    const kind: FleetEventKind = mig.outcome === 'aborted' ? 'aborted' : mig.outcome === 'incomplete' ? 'incomplete' : 'completed';
    events.push({ atNs, kind, vm: scenario.vms[vm]!.name, detail: `${mig.outcome}: ${mig.reason}` });
    // At the horizon the run is over: a freed slot starts nothing more.
    if (!closing) controller.ended(m, fleet);
  };
  // Members in the file's order: the tie rule's order.
  const contents = new Map<number, ContentMix>();
  for (const m of [...scenario.migrations].sort((a, b) => a.vm - b.vm)) {
    const spec = scenario.vms[m.vm]!;
    const g = o.guest(spec);
    const mig = new VmMigration(m.vm, network, onEnd, () => nowNs);
    members.set(m.vm, new FleetMember(mig, g.setup, g.pull, o.recorder?.(spec)));
    if (g.pageContents) contents.set(m.vm, g.pageContents);
  }
  const order = [...members.keys()].sort((a, b) => a - b);
  // The scheduler's scan, once per step: the VMs' migrations in the tie rule's order, in an array.
  const scan = order.map((v) => members.get(v)!.migration);
  const fleet: FleetHandle = {
    get nowNs() {
      return nowNs;
    },
    vms: scenario.vms,
    hosts: scenario.hosts,
    running,
    control: (vm) => members.get(vm)!.migration,
    start: (m, overrides) => {
      const spec = scenario.vms[m.vm]!;
      const member = members.get(m.vm)!;
      const opts = migrationOptionsFor(spec, scenario.hosts[spec.host]!.nicBytesPerSec, overrides, contents.get(m.vm));
      running.push(m);
      member.start(nowNs, spec.host, m.to, opts);
      note('started', m.vm, `to ${scenario.hosts[m.to]!.name}, ${opts.policy}${Number.isFinite(opts.maxBandwidthBytesPerSec) && opts.policy === 'qemu' ? `, max-bandwidth ${opts.maxBandwidthBytesPerSec} B/s` : ''}${opts.autoConverge ? ', auto-converge' : ''}${opts.multifdChannels ? `, multifd ${opts.multifdChannels} channels` : ''}`);
      controller.started(m, fleet);
    },
    note,
    budget: (vm, budget, detail) => {
      events.push({ atNs: nowNs, kind: 'budget', vm: scenario.vms[vm]!.name, detail, budget });
    },
  };
  const requests = [...scenario.migrations].sort((a, b) => a.atNs - b.atNs || a.line - b.line);
  let nextRequest = 0;
  let lastProgressNs = -Infinity;
  for (;;) {
    const requestNs = nextRequest < requests.length ? requests[nextRequest]!.atNs : Infinity;
    const pollNs = controller.nextPollNs;
    let vmNs = Infinity;
    let vm = -1;
    for (let k = 0; k < scan.length; k++) {
      const t = scan[k]!.nextActionNs;
      if (t < vmNs) {
        vmNs = t;
        vm = k;
      }
    }
    const t = Math.min(requestNs, pollNs, vmNs);
    if (t === Infinity || t > scenario.horizonNs) break;
    nowNs = t;
    if (o.onProgress && t - lastProgressNs >= 100e6) {
      lastProgressNs = t;
      o.onProgress(t, ended);
    }
    if (requestNs === t) {
      const m = requests[nextRequest++]!;
      note('requested', m.vm, `migrate to ${scenario.hosts[m.to]!.name}${m.line > 0 ? ` (plan line ${m.line})` : ''}`);
      controller.request(m, fleet);
    } else if (pollNs === t) controller.poll(fleet);
    else members.get(order[vm]!)!.step();
  }
  closing = true;
  const results: FleetVmResult[] = [];
  for (const v of order) {
    const member = members.get(v)!;
    const mig = member.migration;
    const m = planned.get(v)!;
    let summary: MigrationSummary | undefined;
    if (mig.started) {
      nowNs = Math.max(nowNs, Math.min(scenario.horizonNs, member.sim.clock.nowNs));
      summary = member.finish().summary;
    } else member.finishUnstarted();
    results.push(vmResult(scenario, m, mig.started ? mig.ending() : undefined, summary, mig.readings));
  }
  return fleetResult(scenario, controller.name, results, network, events);
}

/** What fleet.json says of one planned migration: how it ended (undefined: it never started) and its summary. */
export function vmResult(scenario: Scenario, m: PlannedMigration, end: VmEnd | undefined, summary: MigrationSummary | undefined, readings: readonly (readonly [number, number])[]): FleetVmResult {
  const spec = scenario.vms[m.vm]!;
  const requestedAtNs = m.atNs;
  const startedAtNs = end ? end.startedAtNs : -1;
  const endedAtNs = end ? end.endedAtNs : -1;
  const pausedAtNs = end ? end.pausedAtNs : -1;
  const outcome = (end ? end.outcome : 'not-started') as FleetOutcome;
  const stopNs = summary && summary.downtimeNs > 0 ? summary.startNs + summary.totalNs - summary.downtimeNs : -1;
  const downtimeNs = summary ? (pausedAtNs >= 0 && outcome === 'paused' && stopNs >= 0 ? summary.downtimeNs + (stopNs - pausedAtNs) : summary.downtimeNs) : 0;
  return {
    vm: spec.name,
    from: scenario.hosts[spec.host]!.name,
    to: scenario.hosts[m.to]!.name,
    outcome,
    reason: end ? end.reason : 'the scenario ended before the orchestrator started it',
    requestedAtNs,
    startedAtNs,
    endedAtNs,
    queuedNs: (startedAtNs >= 0 ? startedAtNs : scenario.horizonNs) - requestedAtNs,
    totalNs: startedAtNs >= 0 ? endedAtNs - startedAtNs : 0,
    downtimeNs,
    pausedAtNs,
    postcopyAtNs: end ? end.postcopyAtNs : -1,
    bytesSent: summary?.bytesSent ?? 0,
    readings,
    ...(summary ? { summary } : {}),
  };
}

/** The fleet's result from its VMs' (in the file's order), the network's recomputations and the scenario's events. */
export function fleetResult(scenario: Scenario, orchestrator: string, vms: FleetVmResult[], network: SharedNetwork, events: FleetEvent[]): FleetResult {
  const firstRequest = scenario.migrations.length > 0 ? Math.min(...scenario.migrations.map((m) => m.atNs)) : 0;
  const lastEnd = Math.max(firstRequest, ...vms.map((r) => r.endedAtNs));
  return {
    orchestrator,
    seed: scenario.seed,
    vms,
    makespanNs: lastEnd - firstRequest,
    peaks: peaks(network),
    events,
    linkUse: { constraints: network.constraintNames, changes: network.changes },
  };
}

/**
 * A VM's migration options: the policy's defaults, then the orchestrator's,
 * then the VM's own (as a KubeVirt MigrationPolicy overrides the cluster's
 * configuration for the VMs it selects); the link is its source's NIC.
 */
function migrationOptionsFor(spec: VmSpec, nicBytesPerSec: number, overrides: Partial<MigrationOptions>, pageContents: ContentMix | undefined): MigrationOptions {
  const own: Partial<MigrationOptions> = pageContents ? { pageContents } : {};
  const m = spec.migration;
  if (m.maxBandwidthBytesPerSec !== undefined) (own as { maxBandwidthBytesPerSec: number }).maxBandwidthBytesPerSec = m.maxBandwidthBytesPerSec;
  if (m.downtimeLimitNs !== undefined) (own as { downtimeLimitNs: number }).downtimeLimitNs = m.downtimeLimitNs;
  if (m.autoConverge !== undefined) (own as { autoConverge: boolean }).autoConverge = m.autoConverge;
  if (m.maxIters !== undefined) (own as { maxIters: number }).maxIters = m.maxIters;
  const merged: MigrationOptions = { ...DEFAULT_MIGRATION, policy: m.policy, bandwidthBytesPerSec: nicBytesPerSec, ...overrides, ...own, ...m.qemu };
  // multifd-channels 0 is the VM turning off the orchestrator's multifd: the option is absent then, as `run` leaves it.
  if (merged.multifdChannels === 0) delete (merged as { multifdChannels?: number }).multifdChannels;
  return merged;
}

function peaks(network: SharedNetwork): LinkPeak[] {
  return network.constraintNames.map((link, c) => {
    let peak = 0;
    let atNs = 0;
    for (const ch of network.changes) {
      if (ch.usedBytesPerSec[c]! > peak) {
        peak = ch.usedBytesPerSec[c]!;
        atNs = ch.atNs;
      }
    }
    return { link, capacityBytesPerSec: network.capacityBytesPerSec[c]!, peakBytesPerSec: peak, atNs };
  });
}
