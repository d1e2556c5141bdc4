import { type Document, isMap, isSeq, LineCounter, parseDocument } from 'yaml';
import type { z } from 'zod';
import { DEFAULT_GUEST } from '../model/guest-config.js';
import { parseDurationNs, UnitError } from '../model/units.js';
import type { MigrationOptions, PolicyName } from '../reducers/migration/migration-options.js';
import type { TrackerName } from '../reducers/tracker.js';
import { ScenarioError } from './scenario-error.js';
import { type OrchestratorName, scenarioSchema, type ScenarioInput } from './scenario-schema.js';

/**
 * Reads a fleet scenario: YAML parsed by `yaml` (its parseDocument keeps
 * every node's source range), checked by the zod schema, the plan's lines
 * parsed and resolved to migrations. Every error is a ScenarioError naming
 * the file and the line of the value it is about.
 */
export { ScenarioError } from './scenario-error.js';

export interface HostSpec {
  readonly name: string;
  readonly nicBytesPerSec: number;
  /** Memory for guests (Infinity: no limit). */
  readonly memoryBytes: number;
}

export interface LinkSpec {
  readonly name: string;
  readonly hosts: readonly [number, number];
  readonly bandwidthBytesPerSec: number;
  /** The share of the link cross-traffic holds (0..1). */
  readonly background: number;
}

export interface VmSpec {
  readonly name: string;
  readonly index: number;
  readonly host: number;
  readonly workload?: string;
  /** A trace file, resolved against the scenario's directory by the caller. */
  readonly trace?: string;
  readonly settings: Readonly<Record<string, string | number>>;
  readonly memBytes: number;
  readonly vcpus: number;
  readonly guest: 'hvm' | 'pv';
  readonly tracker: TrackerName;
  readonly durationNs: number;
  readonly startNs: number;
  /** Its CPU limit in cores (KubeVirt: resources.limits.cpu), if it has one. */
  readonly cpuLimit?: number;
  readonly migration: {
    readonly policy: PolicyName;
    readonly maxBandwidthBytesPerSec?: number;
    readonly downtimeLimitNs?: number;
    readonly autoConverge?: boolean;
    readonly maxIters?: number;
    /** QEMU's data path and throttle, as the VM's own options (scenario-schema.ts). */
    readonly qemu: Partial<MigrationOptions>;
  };
}

/** One migration of the plan: a VM to a host, requested at a wall time. */
export interface PlannedMigration {
  readonly vm: number;
  readonly to: number;
  readonly atNs: number;
  /** The plan line it came from. */
  readonly line: number;
}

export interface Scenario {
  readonly file: string;
  readonly seed: number;
  readonly hosts: readonly HostSpec[];
  readonly links: readonly LinkSpec[];
  readonly vms: readonly VmSpec[];
  readonly migrations: readonly PlannedMigration[];
  readonly orchestrator: { readonly name: OrchestratorName; readonly settings: Readonly<Record<string, unknown>>; readonly line: number };
  readonly horizonNs: number;
  /** Line of any path in the file (for errors found later: an orchestrator's settings). */
  lineOf(path: readonly (string | number)[]): number;
}

const DEFAULT_VM_DURATION_NS = 60e9;
const DEFAULT_HORIZON_NS = 3600e9;

/**
 * Parses and checks a scenario's text; `file` names it in errors. `plan`
 * replaces the file's plan (`migsim evacuate`): its errors name no line.
 */
export function parseScenario(text: string, file: string, plan?: readonly string[]): Scenario {
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false });
  const lineAt = (offset: number): number => lines.linePos(offset).line;
  if (doc.errors.length > 0) {
    const e = doc.errors[0]!;
    throw new ScenarioError(file, lineAt(e.pos[0]), `not valid YAML: ${e.message.split('\n')[0]}`);
  }
  const lineOf = (path: readonly (string | number)[]): number => (plan && path[0] === 'plan' ? 0 : lineOfPath(doc, path, lineAt));
  const js = doc.toJS() as unknown;
  if (plan && js !== null && typeof js === 'object' && !Array.isArray(js)) (js as Record<string, unknown>).plan = [...plan];
  const parsed = scenarioSchema.safeParse(js);
  if (!parsed.success) {
    const issue = firstIssue(parsed.error);
    throw new ScenarioError(file, lineOf(issue.path as (string | number)[]), describeIssue(issue));
  }
  return resolve(parsed.data, file, lineOf);
}

/** The issue a user fixes first: the earliest in the file. */
function firstIssue(e: z.ZodError): z.core.$ZodIssue {
  return e.issues[0]!;
}

function describeIssue(issue: z.core.$ZodIssue): string {
  const where = issue.path.length > 0 ? `${issue.path.join('.')}: ` : '';
  if (issue.code === 'unrecognized_keys') return `${where}unknown key${issue.keys.length > 1 ? 's' : ''} ${issue.keys.map((k) => `'${k}'`).join(', ')}`;
  return `${where}${issue.message}`;
}

/**
 * The line of the node at `path`, or of the deepest node on the way there
 * (a missing key is reported at the map that lacks it).
 */
function lineOfPath(doc: Document, path: readonly (string | number)[], lineAt: (offset: number) => number): number {
  let node: unknown = doc.contents;
  let line = 1;
  for (const key of path) {
    if (node && typeof node === 'object' && 'range' in node && Array.isArray((node as { range?: number[] }).range)) {
      line = lineAt((node as { range: number[] }).range[0]!);
    }
    if (isMap(node)) {
      const pair = node.items.find((p) => (p.key as { value?: unknown } | null)?.value === key);
      if (!pair) return line;
      const k = pair.key as { range?: number[] } | null;
      if (k?.range) line = lineAt(k.range[0]!);
      node = pair.value;
    } else if (isSeq(node) && typeof key === 'number') {
      node = node.items[key];
    } else return line;
  }
  if (node && typeof node === 'object' && 'range' in node && Array.isArray((node as { range?: number[] }).range)) {
    line = lineAt((node as { range: number[] }).range[0]!);
  }
  return line;
}

function resolve(s: ScenarioInput, file: string, lineOf: (path: readonly (string | number)[]) => number): Scenario {
  const fail = (path: readonly (string | number)[], reason: string): never => {
    throw new ScenarioError(file, lineOf(path), reason);
  };
  const hostIndex = new Map<string, number>();
  s.hosts.forEach((h, i) => {
    if (hostIndex.has(h.name)) fail(['hosts', i, 'name'], `host '${h.name}' is named twice`);
    hostIndex.set(h.name, i);
  });
  const hostRef = (n: string, path: readonly (string | number)[]): number => {
    const i = hostIndex.get(n);
    return i ?? fail(path, `no host named '${n}' (hosts: ${[...hostIndex.keys()].join(', ')})`);
  };
  const hosts: HostSpec[] = s.hosts.map((h) => ({ name: h.name, nicBytesPerSec: h.nic, memoryBytes: h.memory ?? Infinity }));
  const links: LinkSpec[] = (s.links ?? []).map((l, i) => {
    const a = hostRef(l.between[0], ['links', i, 'between', 0]);
    const b = hostRef(l.between[1], ['links', i, 'between', 1]);
    if (a === b) fail(['links', i, 'between'], `link '${l.name}' joins host '${l.between[0]}' to itself`);
    return { name: l.name, hosts: [a, b] as const, bandwidthBytesPerSec: l.bandwidth, background: l.background ?? 0 };
  });
  const vmIndex = new Map<string, number>();
  const vms: VmSpec[] = s.vms.map((v, i) => {
    if (vmIndex.has(v.name)) fail(['vms', i, 'name'], `VM '${v.name}' is named twice`);
    vmIndex.set(v.name, i);
    const tracker = (v.tracker ?? 'hap') as TrackerName;
    const policy = (v.migration?.policy ?? 'qemu') as PolicyName;
    const qemu = qemuOptions(v.migration ?? {}, policy, (key, reason) => fail(['vms', i, 'migration', key], reason));
    return {
      name: v.name,
      index: i,
      host: hostRef(v.host, ['vms', i, 'host']),
      workload: v.workload,
      trace: v.trace,
      settings: v.set ?? {},
      memBytes: v.memory ?? DEFAULT_GUEST.memBytes,
      vcpus: v.vcpus ?? DEFAULT_GUEST.vcpus,
      guest: v.guest ?? 'hvm',
      tracker,
      durationNs: v.duration ?? DEFAULT_VM_DURATION_NS,
      startNs: v.start ?? 0,
      migration: {
        policy,
        maxBandwidthBytesPerSec: v.migration?.maxBandwidth,
        downtimeLimitNs: v.migration?.downtimeLimit,
        autoConverge: v.migration?.autoConverge,
        maxIters: v.migration?.maxIters,
        qemu,
      },
      ...(v.cpuLimit !== undefined ? { cpuLimit: v.cpuLimit } : {}),
    };
  });
  const migrations = resolvePlan(s.plan, hosts, vms, hostIndex, vmIndex, (i, reason) => fail(['plan', i], reason), (i) => lineOf(['plan', i]));
  const o = s.orchestrator ?? { name: 'none' as const, settings: {} };
  return {
    file,
    seed: s.seed ?? 1,
    hosts,
    links,
    vms,
    migrations,
    orchestrator: { ...o, line: lineOf(['orchestrator']) },
    horizonNs: s.horizon ?? DEFAULT_HORIZON_NS,
    lineOf,
  };
}

type VmMigrationInput = NonNullable<ScenarioInput['vms'][number]['migration']>;

/**
 * A VM's QEMU options as MigrationOptions, checked as `run` checks its
 * flags: QEMU's knobs need the qemu policy (multifd and the throttle are
 * QEMU's), and compression and host cores need the VM's own multifd
 * channels (no orchestrator here asks for compression).
 */
function qemuOptions(m: VmMigrationInput, policy: PolicyName, fail: (key: string, reason: string) => never): Partial<MigrationOptions> {
  const given = (['multifdChannels', 'multifdCompression', 'zeroPageDetection', 'hostCores', 'throttleInitial', 'throttleIncrement', 'throttleTailslow'] as const).filter((k) => m[k] !== undefined);
  if (given.length > 0 && policy !== 'qemu') fail(given[0]!, `${given[0]} is QEMU's: give the VM policy: qemu (its policy is '${policy}')`);
  for (const k of ['multifdCompression', 'hostCores'] as const) {
    if (m[k] !== undefined && !(m.multifdChannels! > 0)) fail(k, `${k} needs the VM's own multifd: add multifdChannels: N (1 to 255)`);
  }
  return {
    ...(m.multifdChannels !== undefined ? { multifdChannels: m.multifdChannels } : {}),
    ...(m.multifdCompression !== undefined ? { multifdCompression: m.multifdCompression } : {}),
    ...(m.zeroPageDetection !== undefined ? { zeroPageDetection: m.zeroPageDetection } : {}),
    ...(m.hostCores !== undefined ? { hostCores: m.hostCores } : {}),
    ...(m.throttleInitial !== undefined ? { throttleInitialPct: m.throttleInitial } : {}),
    ...(m.throttleIncrement !== undefined ? { throttleIncrementPct: m.throttleIncrement } : {}),
    ...(m.throttleTailslow !== undefined ? { throttleTailslow: m.throttleTailslow } : {}),
  };
}

const MIGRATE = /^migrate\s+(\S+)\s+to\s+(\S+)(?:\s+at\s+(\S+))?$/;
const EVACUATE = /^evacuate\s+(\S+)(?:\s+to\s+(.+?))?(?:\s+at\s+(\S+))?$/;

/**
 * The plan's lines, in order, as migrations. An evacuation sends each VM on
 * the host, in file order, to the allowed host with the most memory free
 * at that point of the plan (ties: the first in the file), as a
 * least-allocated scheduler scores nodes; a VM with no host with room is
 * an error, since no orchestrator would start it.
 */
function resolvePlan(
  plan: readonly string[],
  hosts: readonly HostSpec[],
  vms: readonly VmSpec[],
  hostIndex: ReadonlyMap<string, number>,
  vmIndex: ReadonlyMap<string, number>,
  fail: (line: number, reason: string) => never,
  lineOf: (i: number) => number,
): PlannedMigration[] {
  const placed = vms.map((v) => v.host);
  const used = hosts.map(() => 0);
  vms.forEach((v) => (used[v.host]! += v.memBytes));
  const planned = new Set<number>();
  const out: PlannedMigration[] = [];
  const time = (t: string | undefined, i: number): number => {
    if (t === undefined) return 0;
    try {
      return parseDurationNs(t);
    } catch (e) {
      if (e instanceof UnitError) fail(i, `'at ${t}': ${e.message}`);
      throw e;
    }
  };
  const host = (n: string, i: number): number => hostIndex.get(n) ?? fail(i, `no host named '${n}' (hosts: ${[...hostIndex.keys()].join(', ')})`);
  const add = (vm: number, to: number, atNs: number, i: number): void => {
    if (planned.has(vm)) fail(i, `VM '${vms[vm]!.name}' is already migrated by an earlier plan line`);
    if (placed[vm] === to) fail(i, `VM '${vms[vm]!.name}' is already on host '${hosts[to]!.name}'`);
    const mem = vms[vm]!.memBytes;
    if (used[to]! + mem > hosts[to]!.memoryBytes) fail(i, `host '${hosts[to]!.name}' has no room for VM '${vms[vm]!.name}' (${mem} bytes)`);
    used[placed[vm]!]! -= mem;
    used[to]! += mem;
    placed[vm] = to;
    planned.add(vm);
    out.push({ vm, to, atNs: Math.max(atNs, vms[vm]!.startNs), line: lineOf(i) });
  };
  plan.forEach((raw, i) => {
    const text = raw.trim().replace(/\s+/g, ' ');
    let m = MIGRATE.exec(text);
    if (m) {
      const vm = vmIndex.get(m[1]!) ?? fail(i, `no VM named '${m[1]}' (VMs: ${[...vmIndex.keys()].join(', ')})`);
      add(vm, host(m[2]!, i), time(m[3], i), i);
      return;
    }
    m = EVACUATE.exec(text);
    if (m) {
      const from = host(m[1]!, i);
      const allowed = m[2] ? m[2].split(/[\s,]+/).filter((x) => x !== '').map((n) => host(n, i)) : hosts.map((_, h) => h);
      const atNs = time(m[3], i);
      const leaving = vms.filter((v) => placed[v.index] === from).map((v) => v.index);
      if (leaving.length === 0) fail(i, `host '${hosts[from]!.name}' has no VM to evacuate`);
      for (const vm of leaving) {
        let best = -1;
        for (const h of allowed) {
          if (h === from) continue;
          const free = hosts[h]!.memoryBytes - used[h]!;
          if (free < vms[vm]!.memBytes) continue;
          if (best < 0 || free > hosts[best]!.memoryBytes - used[best]!) best = h;
        }
        if (best < 0) fail(i, `no host has room for VM '${vms[vm]!.name}' from '${hosts[from]!.name}'`);
        add(vm, best, atNs, i);
      }
      return;
    }
    fail(i, `a plan line is 'migrate VM to HOST [at T]' or 'evacuate HOST [to H1, H2] [at T]', not '${raw}'`);
  });
  return out;
}
