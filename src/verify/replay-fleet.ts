import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadScenario } from '../api/fleet.js';
import { FLEET_FILES, fleetRecord, vmTraceName } from '../api/record-fleet.js';
import type { FleetEvent } from '../fleet/controllers/controller.js';
import { makeController } from '../fleet/controllers/make-controller.js';
import { fleetResult, type FleetVmResult, vmResult } from '../fleet/run-fleet.js';
import type { Scenario } from '../fleet/scenario-file.js';
import { SharedNetwork, type Stream } from '../fleet/shared-network.js';
import type { OwnNetworkCall, VmEnd, VmInputLog } from '../fleet/vm-inputs.js';
import type { MigrationSummary } from '../reducers/summary.js';
import type { ReplayDifference } from './batch-difference.js';
import { replayFleetVmVerify } from './replay-fleet-vm.js';

export interface FleetVmVerify {
  readonly vm: string;
  readonly file: string;
  readonly identical: boolean;
  readonly events: number;
  readonly regeneratedDigest: string;
  readonly firstDifference?: ReplayDifference;
}

export interface FleetVerify {
  readonly dir: string;
  readonly identical: boolean;
  /** Each started migration's run trace, replayed alone. */
  readonly vms: readonly FleetVmVerify[];
  /** The first thing the scenario's stream, the shares or fleet.json get wrong against the traces (absent: none). */
  readonly scenarioProblem?: string;
  /** The first line of fleet.json that differs from what the traces and the event stream give (1-based), or 0. */
  readonly firstDifferentLine: number;
  readonly recorded?: string;
  readonly regenerated?: string;
}

interface VmReplayed {
  readonly vm: number;
  readonly log: VmInputLog;
  readonly end: VmEnd;
  readonly summary: MigrationSummary;
  readonly readings: readonly (readonly [number, number])[];
}

/**
 * `migsim replay --verify DIR` of a recorded fleet, without running the
 * fleet again. Each VM's run trace is replayed alone (replay-fleet-vm.ts).
 * Then the scenario's own stream is checked against them: the shares
 * every trace records are solved again, max-min, from the streams all the
 * traces opened, capped and closed, in the network's order (so no VM was
 * handed a share the others' streams did not leave it); every start, end,
 * abort, post-copy switch and pause in events.jsonl is one a trace holds,
 * at the same time; and fleet.json is rebuilt from the scenario, the
 * event stream and the replayed VMs and compared byte for byte.
 */
export function replayFleetVerify(dir: string, onVm?: (done: number, of: number) => void): FleetVerify {
  const recordedText = readFileSync(join(dir, FLEET_FILES.result), 'utf8');
  const plan = (JSON.parse(recordedText) as { plan?: string[] }).plan;
  const scenario = loadScenario(join(dir, FLEET_FILES.scenario), { plan });
  const events = readFileSync(join(dir, FLEET_FILES.events), 'utf8')
    .split('\n')
    .filter((l) => l.length > 0)
    .map((l) => JSON.parse(l) as FleetEvent);
  const planned = [...scenario.migrations].sort((a, b) => a.vm - b.vm);
  const vms: FleetVmVerify[] = [];
  const replayed = new Map<number, VmReplayed>();
  let problem: string | undefined;
  planned.forEach((m, n) => {
    const name = scenario.vms[m.vm]!.name;
    const file = join(dir, vmTraceName(name));
    const started = events.some((e) => e.vm === name && e.kind === 'started');
    if (!existsSync(file)) {
      if (started) problem ??= `${vmTraceName(name)} is missing: the event stream says VM '${name}' started`;
      return;
    }
    const r = replayFleetVmVerify(file);
    vms.push({ vm: name, file, identical: r.identical, events: r.events, regeneratedDigest: r.regeneratedDigest, ...(r.firstDifference ? { firstDifference: r.firstDifference } : {}) });
    if (r.identical && r.log && r.end && r.summary) replayed.set(m.vm, { vm: m.vm, log: r.log, end: r.end, summary: r.summary, readings: r.readings ?? [] });
    onVm?.(n + 1, planned.length);
  });
  const allVmsIdentical = vms.every((v) => v.identical);
  let network: SharedNetwork | undefined;
  if (allVmsIdentical && problem === undefined) {
    const shares = solveShares(scenario, [...replayed.values()]);
    if (typeof shares === 'string') problem = shares;
    else network = shares;
  }
  if (network && problem === undefined) problem = streamProblem(scenario, events, replayed);
  let firstDifferentLine = 0;
  let recorded: string | undefined;
  let regenerated: string | undefined;
  if (network && problem === undefined) {
    const results: FleetVmResult[] = planned.map((m) => {
      const r = replayed.get(m.vm);
      return vmResult(scenario, m, r?.end, r?.summary, r?.readings ?? []);
    });
    const name = makeController(scenario.orchestrator.name, scenario.orchestrator.settings).name;
    const text = fleetRecord(fleetResult(scenario, name, results, network, events), plan);
    if (text !== recordedText) {
      const a = recordedText.split('\n');
      const b = text.split('\n');
      let i = 0;
      while (i < a.length && a[i] === b[i]) i++;
      firstDifferentLine = i + 1;
      recorded = a[i];
      regenerated = b[i];
    }
  }
  return {
    dir,
    identical: allVmsIdentical && problem === undefined && network !== undefined && firstDifferentLine === 0,
    vms,
    ...(problem !== undefined ? { scenarioProblem: problem } : {}),
    firstDifferentLine,
    ...(recorded !== undefined ? { recorded } : {}),
    ...(regenerated !== undefined ? { regenerated } : {}),
  };
}

/**
 * The fleet's network again, from the traces alone: every VM's own calls
 * (open, cap, close) in the order the fleet made them, each VM's stream
 * from its start's hosts. Each call must give the caller the share its
 * trace recorded, and every share it changed for another stream must be
 * the one that VM's trace recorded as an input, and no other. Returns the
 * network (its recomputations make fleet.json's link use and peaks), or
 * what disagrees.
 */
function solveShares(scenario: Scenario, vms: readonly VmReplayed[]): SharedNetwork | string {
  const network = new SharedNetwork(scenario.hosts, scenario.links);
  const calls: { vm: number; c: OwnNetworkCall }[] = [];
  const recordedShares = new Map<string, number>();
  const solvedShares = new Map<string, number>();
  const hosts = new Map<number, { from: number; to: number }>();
  const vmName = (vm: number) => scenario.vms[vm]!.name;
  for (const v of vms) {
    for (const c of v.log.own) calls.push({ vm: v.vm, c });
    for (const i of v.log.inputs) {
      if (i.op === 'share') recordedShares.set(`${i.seq} ${i.atNs} ${v.vm}`, i.bytesPerSec);
      if (i.op === 'start') hosts.set(v.vm, { from: i.from, to: i.to });
    }
  }
  calls.sort((a, b) => a.c.seq - b.c.seq);
  const streams = new Map<number, Stream>();
  for (let n = 0; n < calls.length; n++) {
    const { vm, c } = calls[n]!;
    if (c.seq !== n) return `the network's calls: call ${n} is in no trace (the next is ${c.seq}, by VM '${vmName(vm)}')`;
    let s = streams.get(vm);
    if (c.call === 'open') {
      const h = hosts.get(vm)!;
      s = network.open(vm, h.from, h.to, c.capBytesPerSec, c.atNs, { own() {}, share: (seq, atNs, r) => solvedShares.set(`${seq} ${atNs} ${vm}`, r) });
      streams.set(vm, s);
    } else if (!s) return `VM '${vmName(vm)}': a ${c.call} of its stream before it opened (call ${c.seq})`;
    else if (c.call === 'cap') network.setCap(s, c.capBytesPerSec, c.atNs);
    else network.close(s, c.atNs);
    if (s!.rateBytesPerSec !== c.bytesPerSec) return `VM '${vmName(vm)}': its trace says call ${c.seq} (${c.call} at ${c.atNs} ns) left its stream ${c.bytesPerSec} B/s; max-min sharing of the recorded streams gives ${s!.rateBytesPerSec} B/s`;
  }
  for (const [key, r] of recordedShares) {
    const [seq, atNs, vm] = key.split(' ');
    const solved = solvedShares.get(key);
    if (solved !== r) return `VM '${vmName(Number(vm))}': its trace says call ${seq} at ${atNs} ns left its stream ${r} B/s; max-min sharing of the recorded streams gives ${solved === undefined ? 'no change' : `${solved} B/s`}`;
  }
  for (const key of solvedShares.keys()) {
    if (!recordedShares.has(key)) {
      const [seq, atNs, vm] = key.split(' ');
      return `VM '${vmName(Number(vm))}': call ${seq} at ${atNs} ns changed its stream's share to ${solvedShares.get(key)} B/s, which its trace does not record`;
    }
  }
  return network;
}

/**
 * The scenario's event stream against the traces: each VM's start and
 * end, and the controller's aborts, post-copy switches and pauses, at the
 * same wall times on both sides.
 */
function streamProblem(scenario: Scenario, events: readonly FleetEvent[], vms: ReadonlyMap<number, VmReplayed>): string | undefined {
  const CALLS = { abort: 'abort', postcopy: 'postcopy', paused: 'pause' } as const;
  for (const [vm, r] of vms) {
    const name = scenario.vms[vm]!.name;
    const mine = events.filter((e) => e.vm === name);
    const start = r.log.inputs.find((i) => i.op === 'start')!;
    const started = mine.filter((e) => e.kind === 'started').map((e) => e.atNs);
    if (started.length !== 1 || started[0] !== start.atNs) return `VM '${name}': the event stream says it started at ${started.join(', ') || 'no time'} ns, its trace at ${start.atNs} ns`;
    const ends = mine.filter((e) => e.kind === 'completed' || e.kind === 'aborted' || e.kind === 'incomplete');
    const endKind = r.end.outcome === 'aborted' ? 'aborted' : r.end.outcome === 'incomplete' ? 'incomplete' : 'completed';
    const endDetail = `${r.end.outcome}: ${r.end.reason}`;
    // The horizon's 'incomplete' has its reason set after the end event.
    if (ends.length !== 1 || ends[0]!.atNs !== r.end.endedAtNs || ends[0]!.kind !== endKind || (endKind !== 'incomplete' && ends[0]!.detail !== endDetail)) {
      return `VM '${name}': the event stream ends it ${ends.map((e) => `${e.kind} at ${e.atNs} ns`).join(', ') || 'never'}; its trace ${endKind} at ${r.end.endedAtNs} ns`;
    }
    for (const [kind, op] of Object.entries(CALLS)) {
      const noted = [...new Set(mine.filter((e) => e.kind === kind).map((e) => e.atNs))];
      const called = [...new Set(r.log.inputs.filter((i) => i.op === op).map((i) => i.atNs))];
      if (noted.join() !== called.join()) return `VM '${name}': the event stream has its ${kind} at ${noted.join(', ') || 'no time'} ns, its trace at ${called.join(', ') || 'no time'} ns`;
    }
  }
  return undefined;
}
