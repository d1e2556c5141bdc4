import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { copyGuestBatch, type GuestBatch } from '../events/guest-batch.js';
import { ControllerSettingError } from '../fleet/controllers/controller.js';
import { makeController } from '../fleet/controllers/make-controller.js';
import type { GuestPull, MemberRecorder } from '../fleet/fleet-member.js';
import type { SimulationSetup } from '../reducers/simulation.js';
import { type FleetGuest, type FleetResult, runFleet } from '../fleet/run-fleet.js';
import { parseScenario, type Scenario, ScenarioError, type VmSpec } from '../fleet/scenario-file.js';
import { ConfigError } from '../model/guest-config.js';
import { deriveStream } from '../random/derive-stream.js';
import { TraceError } from '../trace/trace-error.js';
import { TraceReader } from '../trace/trace-reader.js';
import type { TraceHeader } from '../trace/trace-records.js';
import { drainSync } from '../util/drain-sync.js';
import { findWorkload, UnknownWorkloadError } from '../workloads/registry.js';
import { ParamError } from '../workloads/resolve-params.js';
import { workloadEvents } from '../workloads/workload-events.js';
import { contentMixOf } from './content-mix-of.js';
import { configFromHeader, workloadHeader } from './record.js';
import { simulationSetup } from './simulation-setup.js';

export type { FleetResult, FleetVmResult } from '../fleet/run-fleet.js';
export { ScenarioError } from '../fleet/scenario-file.js';

/**
 * A fleet scenario read from its file and checked through: the YAML and
 * its schema, the plan, the orchestrator's settings, and every VM's
 * workload and parameters (or trace header). Each error is a ScenarioError
 * naming the file and line.
 */
export function loadScenario(file: string, opts: { text?: string; plan?: readonly string[] } = {}): Scenario {
  const s = parseScenario(opts.text ?? readFileSync(file, 'utf8'), file, opts.plan);
  try {
    makeController(s.orchestrator.name, s.orchestrator.settings);
  } catch (e) {
    if (e instanceof ControllerSettingError) throw new ScenarioError(file, s.lineOf(['orchestrator', ...e.path]), e.message);
    throw e;
  }
  for (const vm of s.vms) vmHeader(s, vm);
  return s;
}

/** The seed of a VM's workload: derived from the scenario's and the VM's name (src/random/derive-stream.ts). */
export function vmSeed(scenario: Scenario, vm: VmSpec): number {
  return deriveStream(scenario.seed, `vm:${vm.name}`).nextU32();
}

function vmHeader(s: Scenario, vm: VmSpec): TraceHeader {
  const at = (key: string): number => s.lineOf(['vms', vm.index, key]);
  try {
    if (vm.trace !== undefined) {
      const r = TraceReader.open(resolve(dirname(s.file), vm.trace));
      const h = r.header;
      r.close();
      return h;
    }
    return workloadHeader({
      workload: vm.workload!,
      seed: vmSeed(s, vm),
      durationNs: vm.durationNs,
      memBytes: vm.memBytes,
      vcpus: vm.vcpus,
      guest: vm.guest,
      paging: 'x86-64',
      settings: vm.settings,
    });
  } catch (e) {
    if (e instanceof ParamError) throw new ScenarioError(s.file, at('set'), `VM '${vm.name}': ${e.message}`);
    if (e instanceof UnknownWorkloadError) throw new ScenarioError(s.file, at('workload'), `VM '${vm.name}': ${e.message}`);
    if (e instanceof ConfigError) throw new ScenarioError(s.file, at('memory'), `VM '${vm.name}': ${e.message}`);
    if (e instanceof TraceError || (e as NodeJS.ErrnoException).code !== undefined) throw new ScenarioError(s.file, at('trace'), `VM '${vm.name}': ${(e as Error).message}`);
    throw e;
  }
}

/**
 * A VM's guest events, pulled a batch at a time. A workload's are
 * generated once, in full, and kept (a workload pushes its events
 * synchronously and cannot be paused between batches); a trace's are read
 * a chunk at a time.
 */
function guestPull(s: Scenario, vm: VmSpec, h: TraceHeader): GuestPull {
  if (vm.trace !== undefined) {
    const reader = TraceReader.open(resolve(dirname(s.file), vm.trace));
    return {
      next() {
        for (let c = reader.nextChunk(); c; c = reader.nextChunk()) if (c.stream === 'guest') return c.batch;
        return undefined;
      },
      close: () => reader.close(),
    };
  }
  const batches: GuestBatch[] = [];
  drainSync(workloadEvents(findWorkload(h.workload.name), configFromHeader(h), undefined, h.chunkEvents), (b) => batches.push(copyGuestBatch(b)));
  let i = 0;
  return {
    next: () => {
      const b = batches[i];
      if (b) batches[i++] = undefined!;
      return b;
    },
    close: () => batches.splice(0),
  };
}

export interface FleetRunHooks {
  onProgress?(wallNs: number, ended: number): void;
  /** Records a VM's run (its run trace: src/api/record-fleet.ts). */
  recorder?(vm: VmSpec, header: TraceHeader, setup: SimulationSetup): MemberRecorder | undefined;
}

/** Runs a loaded scenario: the orchestrator's controller over every planned migration. */
export function runScenario(s: Scenario, hooks: FleetRunHooks = {}): FleetResult {
  const recorders = new Map<VmSpec, MemberRecorder | undefined>();
  return runFleet(s, {
    controller: makeController(s.orchestrator.name, s.orchestrator.settings),
    guest(vm): FleetGuest {
      const h = vmHeader(s, vm);
      const setup = simulationSetup(h, { tracker: vm.tracker });
      recorders.set(vm, hooks.recorder?.(vm, h, setup));
      return { setup, pull: guestPull(s, vm, h), pageContents: contentMixOf(h) };
    },
    recorder: (vm) => recorders.get(vm),
    ...(hooks.onProgress ? { onProgress: hooks.onProgress } : {}),
  });
}
