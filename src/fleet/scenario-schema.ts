import { z } from 'zod';
import { parseBandwidthBytesPerSec, parseDurationNs, parseSizeBytes, UnitError } from '../model/units.js';
import { POLICY_NAMES, ZERO_PAGE_DETECTIONS, type ZeroPageDetection } from '../reducers/migration/migration-options.js';
import { COMPRESSIONS, type Compression } from '../reducers/migration/page-codec.js';
import { TRACKER_NAMES } from '../reducers/tracker.js';

/**
 * A fleet scenario as its YAML file says it (issue 18): hosts with their
 * NICs, the network between them (a non-blocking switch, or named links),
 * VMs each with a guest and migration options, a plan, and an orchestrator.
 * Values with units are strings as on the command line (10Gbit, 1GiB, 2s);
 * the schema turns them into integers (bytes, bytes per second, ns).
 */

/** A string (or bare number) with a unit, parsed by `parse`; the unit error becomes the issue. */
function unit(parse: (s: string) => number, what: string) {
  return z.union([z.string(), z.number()]).transform((v, ctx) => {
    if (typeof v === 'number') return v;
    try {
      return parse(v);
    } catch (e) {
      if (!(e instanceof UnitError)) throw e;
      ctx.addIssue({ code: 'custom', message: `${what}: ${e.message}` });
      return z.NEVER;
    }
  });
}

const duration = unit(parseDurationNs, 'a duration');
const size = unit(parseSizeBytes, 'a size');
const bandwidth = unit(parseBandwidthBytesPerSec, 'a bandwidth');
const positiveBandwidth = bandwidth.refine((b) => b > 0, 'a bandwidth above 0');
/** 40%, or a fraction 0.4. */
const fraction = z.union([z.string(), z.number()]).transform((v, ctx) => {
  const m = typeof v === 'number' ? null : /^\s*([0-9]+(?:\.[0-9]+)?)\s*%\s*$/.exec(v);
  const x = typeof v === 'number' ? v : m ? Number(m[1]) / 100 : NaN;
  if (!(x >= 0 && x < 1)) {
    ctx.addIssue({ code: 'custom', message: `a share of the link below 100% (40%, or 0.4), not '${v}'` });
    return z.NEVER;
  }
  return x;
});
const name = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_.-]*$/, 'a name of letters, digits, - _ . (no spaces)');

const host = z.strictObject({
  name,
  /** The NIC's rate, each way (full duplex). */
  nic: positiveBandwidth,
  /** Memory for guests: evacuation sends a VM only to a host with room (default: no limit). */
  memory: size.optional(),
});

const link = z.strictObject({
  name,
  /** The two hosts it joins. */
  between: z.tuple([name, name]),
  bandwidth: positiveBandwidth,
  /** Cross-traffic: the share of the link other traffic holds. */
  background: fraction.optional(),
});

/** QEMU's percentages of cpu-throttle-initial and -increment: 1 to 99 (migration/options.c migrate_params_check). */
const throttlePct = z.number().int().min(1).max(99);

/**
 * A VM's migration knobs: the policy's options (migration-options.ts), with
 * units, named after `run`'s flags. The QEMU ones are what an
 * orchestrator's user can set per VM (a KubeVirt MigrationPolicy, a Nova
 * flavor's compute host); they override the orchestrator's.
 */
const migration = z.strictObject({
  policy: z.enum(POLICY_NAMES as [string, ...string[]]).optional(),
  maxBandwidth: positiveBandwidth.optional(),
  downtimeLimit: duration.optional(),
  autoConverge: z.boolean().optional(),
  maxIters: z.number().int().positive().optional(),
  /** QEMU's multifd-channels (1 to 255); 0 turns multifd off where the orchestrator would turn it on. */
  multifdChannels: z.number().int().min(0).max(255).optional(),
  multifdCompression: z.enum(COMPRESSIONS as [Compression, ...Compression[]]).optional(),
  zeroPageDetection: z.enum(ZERO_PAGE_DETECTIONS as [ZeroPageDetection, ...ZeroPageDetection[]]).optional(),
  hostCores: z.number().int().positive().optional(),
  throttleInitial: throttlePct.optional(),
  throttleIncrement: throttlePct.optional(),
  throttleTailslow: z.boolean().optional(),
});

const vm = z
  .strictObject({
    name,
    host: name,
    /** A built-in workload, or `trace` (a workload trace file, relative to the scenario). */
    workload: z.string().optional(),
    trace: z.string().optional(),
    /** Workload parameters, as `--set key=value`. */
    set: z.record(z.string(), z.union([z.string(), z.number()])).optional(),
    memory: size.optional(),
    vcpus: z.number().int().positive().optional(),
    guest: z.enum(['hvm', 'pv']).optional(),
    tracker: z.enum(TRACKER_NAMES as [string, ...string[]]).optional(),
    /** The VM's CPU limit in cores (a KubeVirt VMI's resources.limits.cpu): KubeVirt then leaves multifd off. */
    cpuLimit: z.number().positive().optional(),
    /** Guest time the workload runs (its events), default 60s. */
    duration: duration.optional(),
    /** The earliest wall time its migration may start (a guest still booting). */
    start: duration.optional(),
    migration: migration.optional(),
  })
  .refine((v) => (v.workload === undefined) !== (v.trace === undefined), 'give a VM either a workload or a trace, not both or neither');

const orchestratorName = z.enum(['none', 'kubevirt', 'kubevirt-vep248', 'nova', 'ovirt']);
/** The orchestrator's own settings, each named as in its configuration (checked per orchestrator). */
const orchestrator = z.union([
  orchestratorName.transform((n) => ({ name: n, settings: {} as Record<string, unknown> })),
  z
    .looseObject({ name: orchestratorName })
    .transform(({ name: n, ...settings }) => ({ name: n, settings: settings as Record<string, unknown> })),
]);

export const scenarioSchema = z.strictObject({
  /** Seeds every VM's workload (each derives its own stream from it and its name). */
  seed: z.number().int().nonnegative().optional(),
  hosts: z.array(host).min(2, 'a fleet needs at least two hosts'),
  /** Links between hosts; without any, the hosts share a non-blocking switch (only NICs limit). */
  links: z.array(link).optional(),
  vms: z.array(vm).min(1, 'a fleet needs at least one VM'),
  /** `migrate VM to HOST [at T]`, `evacuate HOST [to H1, H2] [at T]`. */
  plan: z.array(z.string()).min(1, 'a plan of at least one line: migrate VM to HOST, or evacuate HOST'),
  orchestrator: orchestrator.optional(),
  /** A bound on the scenario's wall time: migrations still running then are left incomplete (default 1h). */
  horizon: duration.optional(),
});

export type ScenarioInput = z.output<typeof scenarioSchema>;
export type OrchestratorName = z.output<typeof orchestratorName>;
export const ORCHESTRATOR_NAMES = orchestratorName.options;
