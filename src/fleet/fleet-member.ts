import type { GuestBatch } from '../events/guest-batch.js';
import { copyRunBatch, type RunBatch } from '../events/run-batch.js';
import type { RunFinal } from '../reducers/run-final.js';
import { Simulation, type SimulationSetup } from '../reducers/simulation.js';
import { type MigrationSummary, SummaryFold, type SummarySpec } from '../reducers/summary.js';
import type { VmMigration } from './vm-migration.js';

/** A VM's guest events, pulled a batch at a time (a batch is valid until the next pull). */
export interface GuestPull {
  next(): GuestBatch | undefined;
  close(): void;
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
    private readonly onRunBatch?: (b: RunBatch) => void,
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

  /** The migration started: the summary fold begins, with what the run emitted before. */
  beginSummary(spec: SummarySpec): void {
    this.fold = new SummaryFold(spec);
    for (const b of this.early) this.fold.add(b);
    this.early = [];
  }

  /** Ends the VM's run: the driver finishes, and the summary is folded. */
  finish(): { final: RunFinal; summary: MigrationSummary | undefined } {
    this.finished = true;
    const final = this.sim.finish();
    this.guest.close();
    const summary = this.fold ? (this.fold.finish(final) as MigrationSummary) : undefined;
    return { final, summary };
  }

  /** A VM whose migration never started: its guest is dropped unrun. */
  finishUnstarted(): void {
    this.finished = true;
    this.guest.close();
  }

  get done(): boolean {
    return this.finished;
  }

  private runBatch(b: RunBatch): void {
    this.onRunBatch?.(b);
    if (this.fold) this.fold.add(b);
    else this.early.push(copyRunBatch(b));
  }
}
