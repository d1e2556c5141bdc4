import type { GuestBatch } from '../../src/events/guest-batch.js';
import { DEFAULT_COSTS } from '../../src/model/cost-model.js';
import type { Driver } from '../../src/reducers/driver.js';
import { DEFAULT_KVM, type KvmOptions } from '../../src/reducers/kvm-options.js';
import { RoundDriver } from '../../src/reducers/round-driver.js';
import { Simulation } from '../../src/reducers/simulation.js';
import type { P2mPageSize, SuperpagePolicy, TrackerName } from '../../src/reducers/tracker.js';
import type { EventScript } from './mmu-script.js';

/** A toolstack that never acts on its own: the test calls enable/clean itself. */
export const manualDriver: Driver = { nextActionNs: Infinity, act() {}, finish() {} };

export interface TrackerSimOptions {
  readonly p2m?: P2mPageSize;
  readonly superpages?: SuperpagePolicy;
  readonly memPages?: number;
  readonly vcpus?: number;
  /** KVM's trackers: the options beside their defaults. */
  readonly kvm?: Partial<KvmOptions>;
}

/** An HVM x86-64 simulation under `tracker`, driven by the test (default 4096 pages, 2 vCPUs, 4k p2m). */
export function makeTrackerSim(tracker: TrackerName, o: TrackerSimOptions = {}): Simulation {
  const sim = new Simulation(
    {
      guest: { type: 'hvm', paging: 'x86-64', memPages: o.memPages ?? 4096, vcpus: o.vcpus ?? 2 },
      seed: 1,
      tracker,
      superpages: o.superpages ?? 'split',
      p2m: o.p2m ?? '4k',
      costs: DEFAULT_COSTS,
      ...(o.kvm ? { kvm: { ...DEFAULT_KVM, ...o.kvm } } : {}),
    },
    () => {},
  );
  sim.attach(() => manualDriver);
  return sim;
}

/** Fixed log-dirty rounds drive `sim` (the driver is returned so that a test can look at its rounds). */
export function attachRounds(sim: Simulation, roundNs: number, startNs: number): RoundDriver {
  let driver: RoundDriver | undefined;
  sim.attach((w) => (driver = new RoundDriver(w.tracker, w.oracle, w.clock, w.run, roundNs, startNs, true)));
  return driver!;
}

/** Exits of one run-event kind the tracker has taken so far. */
export function exits(sim: Simulation, kind: number): number {
  return sim.tracker.exitCounts[kind]!;
}

/** The pfns set in a bitmap copy, ascending. */
export function setOf(bits: Uint32Array): number[] {
  const out: number[] = [];
  for (let p = 0; p < bits.length * 32; p++) if ((bits[p >>> 5]! & (1 << (p & 31))) !== 0) out.push(p);
  return out;
}

/** One batch of physical writes by `vcpu`, in the order given. */
export function physWrites(script: EventScript, pfns: readonly number[], vcpu = 0): GuestBatch {
  for (const p of pfns) script.physWrite(p, 8, vcpu);
  return script.take();
}
