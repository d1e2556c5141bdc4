import { mkdirSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type { GuestBatch } from '../events/guest-batch.js';
import type { RunBatch } from '../events/run-batch.js';
import type { MemberRecorder } from '../fleet/fleet-member.js';
import { FLEET_FILES, vmTraceName } from '../fleet/fleet-record-dir.js';
import type { Scenario, VmSpec } from '../fleet/scenario-file.js';
import type { VmEnd, VmInputLog } from '../fleet/vm-inputs.js';
import type { MigrationOptions } from '../reducers/migration/migration-options.js';
import type { SimulationSetup } from '../reducers/simulation.js';
import type { MigrationSummary } from '../reducers/summary.js';
import type { TraceHeader } from '../trace/trace-records.js';
import { TraceWriter } from '../trace/trace-writer.js';
import { writeFileAtomic } from '../util/atomic-write.js';
import { PROGRAM_VERSION } from '../version.js';
import { type FleetResult, type FleetRunHooks, runScenario } from './fleet.js';

export { FLEET_FILES, isFleetRecord, vmTraceName } from '../fleet/fleet-record-dir.js';

/**
 * The recorded form of a fleet run: the program, the plan given on the
 * command line (if any), the result (each VM's outcome and full summary,
 * the controller's decisions, every change of the links' shares). Written
 * with sorted-free, fixed key order by JSON.stringify of one object built
 * the same way every time, so the same scenario and seed give the same
 * bytes.
 */
export function fleetRecord(result: FleetResult, plan: readonly string[] | undefined): string {
  return JSON.stringify({ program: { name: 'migsim', version: PROGRAM_VERSION }, ...(plan ? { plan } : {}), result }, null, 1) + '\n';
}

/** What a fleet VM's run trace keeps in its footer beside the summary (footer.run.fleet). */
export interface FleetVmFooter extends VmInputLog {
  readonly end: VmEnd;
}

/**
 * Writes one fleet VM's run trace as its run goes: the header when the
 * orchestrator starts the migration (its run spec holds the options the
 * VM started with; nothing of the guest was folded before), the guest
 * batches as the fleet pulls them and the rest at the end, the run
 * batches as they fill, and a footer with the summary and the VM's input
 * log (vm-inputs.ts): what a replay of this VM alone needs.
 */
class VmTraceRecorder implements MemberRecorder {
  private writer: TraceWriter | undefined;

  constructor(
    private readonly path: string,
    private readonly scenario: Scenario,
    private readonly vm: VmSpec,
    private readonly header: TraceHeader,
    private readonly setup: SimulationSetup,
  ) {}

  started(opts: MigrationOptions, atNs: number, from: number, to: number): void {
    const s = this.setup;
    const header: TraceHeader = {
      ...this.header,
      traceKind: 'run',
      run: {
        tracker: s.tracker,
        superpages: s.superpages,
        p2m: s.p2m,
        costs: s.costs,
        migration: { ...opts, startNs: atNs, afterEnd: 'stop' },
        ...(s.shadowOos ? { shadowOos: true } : {}),
        ...(s.kvm ? { kvm: s.kvm } : {}),
        fleet: { vm: this.vm.name, from: this.scenario.hosts[from]!.name, to: this.scenario.hosts[to]!.name },
      },
    };
    this.writer = new TraceWriter(this.path, header);
  }

  guest(b: GuestBatch): void {
    this.writer!.writeGuestBatch(b);
  }

  run(b: RunBatch): void {
    this.writer!.writeRunBatch(b);
  }

  finished(summary: MigrationSummary, log: VmInputLog, end: VmEnd): void {
    const fleet: FleetVmFooter = { steps: log.steps, inputs: log.inputs, own: log.own, end };
    this.writer!.finish({ run: { summary: summary as unknown as Record<string, unknown>, fleet } });
    this.writer = undefined;
  }

  dropped(): void {
    this.abort();
  }

  abort(): void {
    this.writer?.abort();
    this.writer = undefined;
  }
}

/**
 * Runs a scenario and records it in `dir`: the scenario's text as read,
 * one run trace per migration the orchestrator started (vm-NAME.mst, each
 * replayable alone with its recorded shares and the controller's calls),
 * the scenario's own event stream, one JSON object a line (events.jsonl:
 * requested, queued, started, the controller's decisions, completed,
 * aborted), and the result (fleet.json). Each file is written atomically,
 * fleet.json last; a run trace of an earlier recording that this one did
 * not write is removed. `migsim replay --verify DIR` checks it
 * (src/verify/replay-fleet.ts).
 */
export function recordFleet(scenario: Scenario, dir: string, hooks: FleetRunHooks & { plan?: readonly string[] } = {}): FleetResult {
  const text = readFileSync(scenario.file, 'utf8');
  mkdirSync(dir, { recursive: true });
  const recorders: VmTraceRecorder[] = [];
  const written = new Set<string>();
  let result: FleetResult;
  try {
    result = runScenario(scenario, {
      ...hooks,
      recorder: (vm, header, setup) => {
        const name = vmTraceName(vm.name);
        written.add(name);
        const r = new VmTraceRecorder(join(dir, name), scenario, vm, header, setup);
        recorders.push(r);
        return r;
      },
    });
  } catch (e) {
    for (const r of recorders) r.abort();
    throw e;
  }
  for (const v of result.vms) if (v.startedAtNs < 0) written.delete(vmTraceName(v.vm));
  for (const f of readdirSync(dir)) if (/^vm-.*\.mst$/.test(f) && !written.has(f)) rmSync(join(dir, f), { force: true });
  writeFileAtomic(join(dir, FLEET_FILES.scenario), text);
  writeFileAtomic(join(dir, FLEET_FILES.events), result.events.map((e) => JSON.stringify(e)).join('\n') + '\n');
  writeFileAtomic(join(dir, FLEET_FILES.result), fleetRecord(result, hooks.plan));
  return result;
}
