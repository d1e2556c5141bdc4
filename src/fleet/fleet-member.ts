import type { GuestBatch } from '../events/guest-batch.js';
import { copyRunBatch, type RunBatch } from '../events/run-batch.js';
import type { RunFinal } from '../reducers/run-final.js';
import { Simulation, type SimulationSetup } from '../reducers/simulation.js';
import { type MigrationSummary, SummaryFold, type SummarySpec } from '../reducers/summary.js';
import type { MigrationOptions } from '../reducers/migration/migration-options.js';
import type { VmEnd, VmInputLog } from './vm-inputs.js';
import type { VmMigration } from './vm-migration.js';

/** A VM's guest events, pulled a batch at a time (a batch is valid until the next pull). */
export interface GuestPull {
  next(): GuestBatch | undefined;
  close(): void;
}

/** Records one VM's run as it goes (src/api/record-fleet.ts writes its run trace). */
export interface MemberRecorder {
  /** The migration started with `opts` at `atNs`: nothing of the guest was folded before. */
  started(opts: MigrationOptions, atNs: number, from: number, to: number): void;
  guest(b: GuestBatch): void;
  run(b: RunBatch): void;
  /** The run ended: its summary, its input log and how it ended; the guest's unfolded events followed `guest`. */
  finished(summary: MigrationSummary, log: VmInputLog, end: VmEnd): void;
  /** The migration never started: nothing to keep. */
  dropped(): void;
}

/**
 * One VM of a fleet: its own Simulation (guest, MMU, tracker, clock,
 * oracle) with its VmMigration as the driver, its guest events pulled a
 * batch at a time, and the fold of its run events into its summary. The
 * scheduler runs it only up to its driver's next action, then lets it act.
 */
export class FleetMember {
  readonly sim: Simulation;
  private exhausted = false;
  private fold: SummaryFold | undefined;
  private early: RunBatch[] = [];
  private finished = false;

  constructor(
    readonly migration: VmMigration,
    setup: SimulationSetup,
    private readonly guest: GuestPull,
    private readonly recorder?: MemberRecorder,
  ) {
    this.sim = new Simulation(setup, (b) => this.runBatch(b));
    this.sim.attach(migration.factory);
  }

  /**
   * Folds guest events until the driver's next action is due, then acts.
   * A guest whose events have ended runs on idle (it writes nothing and
   * loses nothing to pauses), as MigrationPolicy.finish does for one run.
   */
  step(): void {
    const due = this.migration.nextActionNs;
    while (!this.exhausted) {
      if (!this.sim.loaded) {
        const b = this.guest.next();
        if (b !== undefined) this.recorder?.guest(b);
        if (b === undefined) {
          this.exhausted = true;
          this.sim.clock.idleAll();
          break;
        }
        this.sim.load(b);
      }
      if (this.sim.advance()) break;
    }
    if (this.exhausted) this.sim.clock.advanceTo(due);
    this.migration.act();
  }

  /**
   * The orchestrator starts the migration at `atNs`: the driver builds its
   * policy, and the summary fold begins, with what the run emitted before.
   */
  start(atNs: number, from: number, to: number, opts: MigrationOptions): void {
    this.recorder?.started(opts, atNs, from, to);
    for (const b of this.early) this.recorder?.run(b);
    this.migration.start(atNs, from, to, opts);
    const setup = this.sim.setup;
    const spec: SummarySpec = {
      mode: 'migration',
      tracker: setup.tracker,
      superpages: setup.superpages,
      p2m: setup.p2m,
      policy: opts.policy,
      startNs: atNs,
      vcpus: setup.guest.vcpus,
      bandwidthBytesPerSec: opts.bandwidthBytesPerSec,
      pageHeaderBytes: setup.costs.pageHeaderBytes,
      afterEnd: 'stop',
    };
    this.fold = new SummaryFold(spec);
    for (const b of this.early) this.fold.add(b);
    this.early = [];
  }

  /** Ends the VM's run: the driver finishes, and the summary is folded. */
  finish(): { final: RunFinal; summary: MigrationSummary | undefined } {
    this.finished = true;
    const final = this.sim.finish();
    const summary = this.fold ? (this.fold.finish(final) as MigrationSummary) : undefined;
    if (this.recorder && summary) {
      // The trace holds the guest's whole event stream, so that its guest
      // events can be regenerated and compared: the rest follows, unfolded.
      if (!this.exhausted) for (let b = this.guest.next(); b !== undefined; b = this.guest.next()) this.recorder.guest(b);
      this.recorder.finished(summary, this.migration.log, this.migration.ending());
    }
    this.guest.close();
    return { final, summary };
  }

  /** A VM whose migration never started: its guest is dropped unrun. */
  finishUnstarted(): void {
    this.finished = true;
    this.recorder?.dropped();
    this.guest.close();
  }

  get done(): boolean {
    return this.finished;
  }

  private runBatch(b: RunBatch): void {
    if (this.fold) {
      this.recorder?.run(b);
      this.fold.add(b);
    }
    else this.early.push(copyRunBatch(b));
  }
}
