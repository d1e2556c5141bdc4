import { type CostModel, DEFAULT_COSTS } from '../model/cost-model.js';
import { DEFAULT_KVM, type KvmOptions } from '../reducers/kvm-options.js';
import type { SimulationSetup } from '../reducers/simulation.js';
import type { P2mPageSize, SuperpagePolicy, TrackerName } from '../reducers/tracker.js';
import type { TraceHeader } from '../trace/trace-records.js';

/** How to simulate a guest: what `run` (fixed rounds) and `migrate` both take. */
export interface SimulationOptions {
  readonly tracker: TrackerName;
  readonly superpages?: SuperpagePolicy;
  readonly p2m?: P2mPageSize;
  readonly costs?: CostModel;
  /** Shadow: model Xen's out-of-sync L1 optimisation (HVM). */
  readonly shadowOos?: boolean;
  /** KVM's trackers: manual protect, clear-bitmap-shift, eager splitting, ring size, dirty limit (defaults: src/reducers/kvm-options.ts). */
  readonly kvm?: Partial<KvmOptions>;
  /**
   * HAP and PML run in the EPT loop (runUnderEpt, ept-run.ts), and shadow
   * in its own loop (ShadowTracker.processShadow), unless false: then every
   * access goes through Tracker.process and its hooks, the reference path
   * the loops are tested against. Results are identical either way.
   */
  readonly eptLoop?: boolean;
  /**
   * The walk loops load a block of events' lines ahead (touch-ahead.ts):
   * by default for guests of 2 GiB and more. Results are identical either
   * way (test/reducers/touch-ahead.test.ts); only speed differs.
   */
  readonly lookAhead?: boolean;
}

/** The API's defaults for what `opts` leaves out (a recorded run's spec holds them too). */
export function simulationDefaults(opts: SimulationOptions): { superpages: SuperpagePolicy; p2m: P2mPageSize; costs: CostModel } {
  return { superpages: opts.superpages ?? 'split', p2m: opts.p2m ?? '2m', costs: opts.costs ?? DEFAULT_COSTS };
}

/** The Simulation of a trace header's guest under `opts`, with the API's defaults filled in. */
export function simulationSetup(h: TraceHeader, opts: SimulationOptions): SimulationSetup {
  return {
    guest: { type: h.guest.type, paging: h.guest.paging, memPages: h.guest.memPages, vcpus: h.guest.vcpus },
    seed: h.workload.seed,
    tracker: opts.tracker,
    ...simulationDefaults(opts),
    shadowOos: opts.shadowOos,
    ...(opts.kvm ? { kvm: { ...DEFAULT_KVM, ...opts.kvm } } : {}),
    eptLoop: opts.eptLoop,
    lookAhead: opts.lookAhead,
  };
}
