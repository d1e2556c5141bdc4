import { type GuestBatch, sliceGuestBatch } from '../events/guest-batch.js';
import type { RunBatch } from '../events/run-batch.js';
import { RunBatchBuilder } from '../events/run-batch-builder.js';
import type { CostModel } from '../model/cost-model.js';
import type * as NodeCrypto from 'node:crypto';
import { createRequire } from 'node:module';
import { hashInSlices } from '../util/hash-in-slices.js';
import type { Driver, DriverFactory } from './driver.js';
import { TOUCH_AHEAD_EVENTS } from './touch-ahead.js';
import { EPT_RUN_EXIT, EPT_RUN_TIME, type EptRun, runUnderEpt } from './ept-run.js';
import type { KvmOptions } from './kvm-options.js';
import { makeTracker } from './make-tracker.js';
import { Mmu } from './mmu.js';
import type { MmuOutput } from './mmu-output.js';
import { PageOracle } from './page-oracle.js';
import type { RunFinal } from './run-final.js';
import type { P2mPageSize, SuperpagePolicy, Tracker, TrackerEnv, TrackerGuest, TrackerName } from './tracker.js';
import { DestinationTracker } from './tracker-destination.js';
import { PostcopyTracker } from './tracker-postcopy.js';
import { VcpuClock } from './vcpu-clock.js';
import { WriteBytes } from './write-bytes.js';
import { zeroed } from '../util/array-pool.js';

/**
 * Events the MMU applies before the tracker reads its output: few enough that
 * the output columns are still in the L2 cache when the tracker reads them.
 */
const CHUNK_EVENTS = 4096;

let crypto: typeof NodeCrypto | undefined;
/**
 * node:crypto, loaded by the first state digest: loading it initialises
 * OpenSSL (about 4 ms, a tenth of a short run's start), and a run without a
 * migration never hashes.
 */
function nodeCrypto(): typeof NodeCrypto {
  return (crypto ??= createRequire(import.meta.url)('node:crypto') as typeof NodeCrypto);
}

/** How far the fold of a loaded batch has gone: the event, and within a chunk the tracker's place in the MMU's output. */
interface FoldCursor {
  readonly batch: GuestBatch;
  i: number;
  chunk: GuestBatch | undefined;
  out: MmuOutput | undefined;
  times: Float64Array | undefined;
  j: number;
  to: number;
}

export interface SimulationSetup {
  readonly guest: TrackerGuest;
  /** The run's seed: the PV p2m map derives from it, as the workload's did. */
  readonly seed: number;
  readonly tracker: TrackerName;
  readonly superpages: SuperpagePolicy;
  readonly p2m: P2mPageSize;
  readonly costs: CostModel;
  readonly shadowOos?: boolean;
  /** KVM's trackers: how logging is set up (src/reducers/kvm-options.ts); their defaults when absent. */
  readonly kvm?: KvmOptions;
  /**
   * HAP and PML accesses run in the EPT loop, runUnderEpt, and shadow's in
   * its own loop (default); false: all through Tracker.process and its
   * hooks, the reference path both loops are held to.
   */
  readonly eptLoop?: boolean;
  /**
   * Count the bytes stored into each page (write-bytes.ts) for the driver
   * (XBZRLE). The EPT loop does not count them, so the accesses then go
   * through Tracker.process, the path the loop is held identical to.
   */
  readonly countWriteBytes?: boolean;
  /** The walk loops' look-ahead (touch-ahead.ts); default: guests of LOOK_AHEAD_MIN_PAGES or more. */
  readonly lookAhead?: boolean;
}

/**
 * The reducers of one run, wired together (DESIGN section 1): the MMU
 * (hardware), the tracker (hypervisor), a driver (toolstack), the vCPU
 * clock and the oracle. `step` folds one guest batch through all of them,
 * handing control to the driver whenever wall time reaches its next action;
 * run events go to `onRunBatch` as they fill. `simulate` (simulate.ts) is
 * the RxJS operator around it, and the one way a run is built.
 *
 * The guest's host is the simulation's: a policy says when the guest
 * resumes on the destination (or starts post-copy there), and the
 * simulation hands its accesses to the destination's tracker.
 */
export class Simulation {
  readonly mmu: Mmu;
  readonly clock: VcpuClock;
  readonly oracle: PageOracle;
  private current: Tracker;
  /** The tracker the guest started under: the live phase's, whose memory and counts the summary reports. */
  readonly sourceTracker: Tracker;
  private readonly env: TrackerEnv;
  private readonly run: RunBatchBuilder;
  private driver: Driver | undefined;
  private tNsBuf = new Float64Array(0);
  private readonly eptRun: EptRun;
  private readonly eptLoop: boolean;
  private readonly writeBytes: WriteBytes | undefined;
  private guestEndNs = 0;
  private guestEvents = 0;
  private loops = 0;
  /** Where the fold of the loaded batch stands (undefined: none loaded). */
  private cursor: FoldCursor | undefined;

  constructor(
    readonly setup: SimulationSetup,
    onRunBatch: (b: RunBatch) => void,
  ) {
    const g = setup.guest;
    this.mmu = new Mmu({ guest: g.type, paging: g.paging, memPages: g.memPages, vcpus: g.vcpus, seed: setup.seed });
    if (setup.lookAhead !== undefined) this.mmu.lookAhead = setup.lookAhead;
    this.clock = new VcpuClock(g.vcpus);
    this.oracle = new PageOracle(g.memPages);
    this.run = new RunBatchBuilder(onRunBatch);
    this.env = {
      guest: g,
      costs: setup.costs,
      clock: this.clock,
      oracle: this.oracle,
      mmu: this.mmu,
      run: this.run,
      superpages: setup.superpages,
      p2m: setup.p2m,
      shadowOos: setup.shadowOos ?? false,
      referenceLoop: setup.eptLoop === false,
      ...(setup.kvm ? { kvm: setup.kvm } : {}),
    };
    this.current = makeTracker(setup.tracker, this.env);
    this.sourceTracker = this.current;
    this.writeBytes = setup.countWriteBytes ? new WriteBytes(g.memPages) : undefined;
    this.eptLoop = (setup.eptLoop ?? true) && this.mmu.runsUnderEpt && this.writeBytes === undefined;
    this.eptRun = { gates: undefined!, clock: this.clock, srcVersion: this.oracle.srcVersion, stopAtWallNs: 0, stop: 0, scratch: new Int32Array(TOUCH_AHEAD_EVENTS) };
  }

  /** The tracker that sees the guest's accesses now (the destination's after a resume). */
  get tracker(): Tracker {
    return this.current;
  }

  /** Builds the toolstack over this simulation's reducers and hands it control from now on. */
  attach(factory: DriverFactory): void {
    const sim = this;
    this.driver = factory({
      guest: this.setup.guest,
      seed: this.setup.seed,
      costs: this.setup.costs,
      clock: this.clock,
      oracle: this.oracle,
      mmu: this.mmu,
      tracker: this.current,
      run: this.run,
      ...(this.writeBytes ? { writtenBytes: this.writeBytes.bytes } : {}),
      host: {
        resumeOnDestination() {
          sim.current = new DestinationTracker(sim.env);
        },
        resumeForPostcopy(missing, source, hostPagePages) {
          const pc = new PostcopyTracker(sim.env, missing, source, hostPagePages);
          sim.current = pc;
          return pc;
        },
      },
    });
  }

  /** Guest time of the last event folded. */
  get guestNs(): number {
    return this.guestEndNs;
  }

  get eventCount(): number {
    return this.guestEvents;
  }

  step(batch: GuestBatch): void {
    this.load(batch);
    this.fold(false);
  }

  /**
   * Hands the simulation a batch to fold with `advance` (a fleet folds
   * several guests' batches interleaved in wall time, src/fleet): nothing
   * runs until then.
   */
  load(batch: GuestBatch): void {
    const n = batch.count;
    if (this.tNsBuf.length < n) this.tNsBuf = zeroed(Float64Array, n);
    this.cursor = { batch, i: 0, chunk: undefined, out: undefined, times: undefined, j: 0, to: 0 };
  }

  /**
   * Folds the loaded batch until the driver's next action is due, and
   * returns true then, without acting: the caller acts (the fleet's
   * scheduler, once no other guest has anything earlier). Returns false
   * once the whole batch is folded.
   */
  advance(): boolean {
    return this.fold(true);
  }

  /** Whether a loaded batch still has events to fold. */
  get loaded(): boolean {
    return this.cursor !== undefined;
  }

  /**
   * The fold of the loaded batch. With `pauseAtAction` it stops where the
   * driver would act and keeps its place (the batch, the event, and within
   * a chunk the MMU's output for it); without, the driver acts there and
   * the fold goes on, as a single run does.
   */
  private fold(pauseAtAction: boolean): boolean {
    const c = this.cursor!;
    const batch = c.batch;
    const n = batch.count;
    const tNs = this.tNsBuf;
    const driver = this.driver!;
    // Event times are summed from dtNs as the events are reached: the EPT
    // loop adds them up itself, anything else a chunk at a time. Either
    // way tNs[i - 1] is set before event i is.
    let i = c.i;
    if (c.chunk !== undefined) {
      // Paused inside a chunk: its MMU output is still this MMU's (nothing
      // else applies events to it), so the tracker takes up where it was.
      if (this.foldChunk(c, pauseAtAction)) return true;
      i = c.to;
    }
    while (i < n) {
      const tracker = this.current;
      const gates = tracker.gates;
      if (this.eptLoop && this.clock.throttlePct === 0 && (gates !== undefined || tracker.fusedLoop)) {
        // Under EPT the hardware runs the guest until the EPT refuses an
        // access; only then does the hypervisor see it (one event at a time).
        // Shadow's own loop over the MMU's walk (shadow-run.ts) stops where
        // runUnderEpt would and is resumed the same way.
        const run = this.eptRun;
        run.stopAtWallNs = driver.nextActionNs;
        if (gates !== undefined) {
          run.gates = gates;
          i = runUnderEpt(this.mmu, batch, i, tNs, run);
        } else i = tracker.runFused(this.mmu, batch, i, tNs, run);
        if (run.stop === EPT_RUN_TIME) {
          if (pauseAtAction) {
            c.i = i;
            return true;
          }
          driver.act();
        } else if (run.stop === EPT_RUN_EXIT) {
          const out = this.mmu.applyRange(batch, i, i + 1);
          // The event's time passed the driver's check in the loop, and
          // nothing has run since: process takes it.
          i = tracker.process(batch, out, tNs, i, driver.nextActionNs, i + 1);
        }
        continue;
      }
      // A chunk at a time, as a batch of its own: the MMU's output columns
      // are indexed from the chunk's start, so every chunk reuses the same
      // 86 KiB of them instead of walking through 1.4 MB over a batch of
      // 65,536 events (the two measured alike in time, within 5%).
      const to = Math.min(n, i + CHUNK_EVENTS);
      const baseNs = i === 0 ? batch.baseNs : tNs[i - 1]!;
      let t = baseNs;
      const dt = batch.dtNs;
      for (let k = i; k < to; k++) tNs[k] = t += dt[k]!;
      const chunk = sliceGuestBatch(batch, i, to, baseNs, to === n ? batch.endNs : t);
      c.chunk = chunk;
      c.times = tNs.subarray(i, to);
      c.out = this.mmu.applyRange(chunk, 0, to - i);
      c.j = 0;
      c.to = to;
      if (this.foldChunk(c, pauseAtAction)) return true;
      i = to;
    }
    this.cursor = undefined;
    this.guestEndNs = batch.endNs;
    this.guestEvents += n;
    return false;
  }

  /** The tracker's pass over one chunk's MMU output; true when paused at the driver's action. */
  private foldChunk(c: FoldCursor, pauseAtAction: boolean): boolean {
    const driver = this.driver!;
    const chunk = c.chunk!;
    const m = chunk.count;
    let j = c.j;
    const writeBytes = this.writeBytes;
    while (j < m) {
      const from = j;
      j = this.current.process(chunk, c.out!, c.times!, j, driver.nextActionNs, m);
      writeBytes?.count(chunk, c.out!, from, j);
      if (j < m) {
        if (pauseAtAction) {
          c.j = j;
          return true;
        }
        driver.act();
        // A tracker under EPT from here on (a swap, a throttle lifted)
        // still works on the MMU's output: the chunk's rest is applied.
      }
    }
    c.chunk = undefined;
    c.out = undefined;
    c.times = undefined;
    return false;
  }

  /**
   * The guest's events have ended (`afterEnd: 'loop'`): while the driver
   * has not completed, run them again, each pass shifted by their span (the
   * guest time of the last one), at most `maxLoops` passes, and stop as soon
   * as it completes. The guest is the same software doing the same thing
   * again: page-table writes rewrite the entries they wrote, writes dirty
   * the pages they dirtied.
   */
  loop(batches: readonly GuestBatch[], maxLoops: number): void {
    const driver = this.driver!;
    const spanNs = this.guestEndNs;
    if (spanNs <= 0 || driver.isComplete?.() !== false) return;
    driver.eventsEnded?.(Math.max(this.clock.nowNs, spanNs));
    while (this.loops < maxLoops && !driver.isComplete() && driver.nextActionNs !== Infinity) {
      const shiftNs = ++this.loops * spanNs;
      for (const b of batches) {
        this.step({ ...b, baseNs: b.baseNs + shiftNs, endNs: b.endNs + shiftNs });
        if (driver.isComplete()) break;
      }
    }
  }

  /**
   * No more guest events: the driver finishes, the run stream is flushed,
   * and the state at the end is the run's final record.
   */
  finish(): RunFinal {
    const clock = this.clock;
    const driver = this.driver!;
    driver.finish(Math.max(clock.nowNs, this.guestEndNs));
    this.run.flush();
    const report = driver.report?.();
    const roundStability = driver.roundStability?.();
    const verdict = driver.verdict?.() ?? { lostPages: 0, firstLostPfns: [] };
    const st = this.sourceTracker;
    return {
      type: 'final',
      guestEvents: this.guestEvents,
      guestNs: this.guestEndNs,
      ...(this.loops > 0 ? { afterEndLoops: this.loops } : {}),
      wallNs: clock.nowNs,
      stallNsByVcpu: Array.from(clock.stallNs),
      trackerMemoryBytes: st.peakMemoryBytes(),
      trackerStats: st.stats(),
      lostPages: verdict.lostPages,
      firstLostPfns: verdict.firstLostPfns,
      // Only a migration reports it (sha256 over both sides' page versions: milliseconds on a large guest).
      stateDigest: report ? this.stateDigest() : '',
      ...(report ? { migration: report } : {}),
      ...(roundStability ? { roundStability } : {}),
    };
  }

  private stateDigest(): string {
    const h = nodeCrypto().createHash('sha256');
    hashInSlices(h, new Uint8Array(this.oracle.srcVersion.buffer));
    this.oracle.dstVersion.forEachWordChunk((w) => hashInSlices(h, new Uint8Array(w.buffer, w.byteOffset, w.byteLength)));
    hashInSlices(h, new Uint8Array(this.clock.stallNs.buffer));
    return h.digest('hex');
  }
}
