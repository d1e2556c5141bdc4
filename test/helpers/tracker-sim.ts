import { Subject } from 'rxjs';
import type { GuestBatch } from '../../src/events/guest-batch.js';
import type { RunBatch } from '../../src/events/run-batch.js';
import { DEFAULT_COSTS } from '../../src/model/cost-model.js';
import { DEFAULT_KVM, type KvmOptions } from '../../src/reducers/kvm-options.js';
import type { Driver, DriverFactory, DriverWorld } from '../../src/reducers/driver.js';
import type { Mmu } from '../../src/reducers/mmu.js';
import type { PageOracle } from '../../src/reducers/page-oracle.js';
import { RoundDriver } from '../../src/reducers/round-driver.js';
import { isRunFinal, type RunFinal } from '../../src/reducers/run-final.js';
import { simulate } from '../../src/reducers/simulate.js';
import type { SimulationSetup } from '../../src/reducers/simulation.js';
import type { P2mPageSize, SuperpagePolicy, Tracker, TrackerName } from '../../src/reducers/tracker.js';
import type { VcpuClock } from '../../src/reducers/vcpu-clock.js';
import type { EventScript } from './mmu-script.js';

/** A toolstack that never acts on its own: the test calls enable/clean itself. */
export const manualDriver: Driver = { nextActionNs: Infinity, act() {}, finish() {} };

/**
 * A run built as every run is, `guest$.pipe(simulate(setup))`, whose guest
 * batches the test hands in one at a time (`step`), looking at the
 * reducers between them: the driver's world (tracker, clock, MMU, oracle)
 * is kept as the driver factory receives it. A setup the simulation
 * refuses throws here, as the pipe's error.
 */
export class ScriptedRun {
  private readonly guest$ = new Subject<GuestBatch>();
  private world: DriverWorld | undefined;
  private final: RunFinal | undefined;
  private failure: unknown;

  constructor(setup: SimulationSetup, driver: DriverFactory = () => manualDriver, onRunBatch: (b: RunBatch) => void = () => {}) {
    this.guest$.pipe(simulate({ ...setup, driver: (w) => ((this.world = w), driver(w)) })).subscribe({
      next: (x) => (isRunFinal(x) ? (this.final = x) : onRunBatch(x)),
      error: (e: unknown) => (this.failure = e),
    });
    this.rethrow();
  }

  /** The tracker the guest runs under (no test here moves the guest to a destination). */
  get tracker(): Tracker {
    return this.world!.tracker;
  }

  get clock(): VcpuClock {
    return this.world!.clock;
  }

  get mmu(): Mmu {
    return this.world!.mmu;
  }

  get oracle(): PageOracle {
    return this.world!.oracle;
  }

  /** Folds one guest batch through the run. */
  step(batch: GuestBatch): void {
    this.guest$.next(batch);
    this.rethrow();
  }

  /** Ends the guest's events: the run's final record. */
  finish(): RunFinal {
    this.guest$.complete();
    this.rethrow();
    return this.final!;
  }

  private rethrow(): void {
    if (this.failure !== undefined) throw this.failure;
  }
}

export interface TrackerSimOptions {
  readonly p2m?: P2mPageSize;
  readonly superpages?: SuperpagePolicy;
  readonly memPages?: number;
  readonly vcpus?: number;
  /** KVM's trackers: the options beside their defaults. */
  readonly kvm?: Partial<KvmOptions>;
  /** Fixed log-dirty rounds drive the run (rounds()); default: the test drives the tracker itself. */
  readonly driver?: DriverFactory;
}

/** An HVM x86-64 run under `tracker`, driven by the test (default 4096 pages, 2 vCPUs, 4k p2m). */
export function makeTrackerSim(tracker: TrackerName, o: TrackerSimOptions = {}): ScriptedRun {
  return new ScriptedRun(
    {
      guest: { type: 'hvm', paging: 'x86-64', memPages: o.memPages ?? 4096, vcpus: o.vcpus ?? 2 },
      seed: 1,
      tracker,
      superpages: o.superpages ?? 'split',
      p2m: o.p2m ?? '4k',
      costs: DEFAULT_COSTS,
      ...(o.kvm ? { kvm: { ...DEFAULT_KVM, ...o.kvm } } : {}),
    },
    o.driver,
  );
}

/** Fixed log-dirty rounds as a run's driver: `factory` for the run, `driver` to look at its rounds once the run is built. */
export function rounds(roundNs: number, startNs: number): { factory: DriverFactory; readonly driver: RoundDriver } {
  let driver: RoundDriver | undefined;
  return {
    factory: (w) => (driver = new RoundDriver(w.tracker, w.oracle, w.clock, w.run, roundNs, startNs, true)),
    get driver() {
      return driver!;
    },
  };
}

/** Exits of one run-event kind the tracker has taken so far. */
export function exits(sim: ScriptedRun, kind: number): number {
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
