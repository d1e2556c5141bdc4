import type { OperatorFunction } from 'rxjs';
import type { GuestBatch } from '../events/guest-batch.js';
import type { RunBatch } from '../events/run-batch.js';
import { operator } from '../util/operator.js';
import type { DriverFactory } from './driver.js';
import type { RunFinal } from './run-final.js';
import { Simulation, type SimulationSetup } from './simulation.js';

/** A run: the guest's simulation and the toolstack that drives it. */
export interface RunSetup extends SimulationSetup {
  readonly driver: DriverFactory;
}

/** The run stream: run batches in wall-time order, then the final record. */
export type RunStreamItem = RunBatch | RunFinal;

/**
 * The reducers of one run as one RxJS operator (DESIGN section 1): guest
 * batches in, run batches out as they fill, and at the source's end the
 * run's final record. A run is `guest$.pipe(simulate(setup))`; the
 * recorder, the summary fold, replay's comparison, the report collectors
 * and progress bars are downstream of it.
 *
 * Each run batch's columns are reused once `next` returns (as a guest
 * batch's are): a consumer that keeps one copies it (copyRunBatch).
 */
export function simulate(setup: RunSetup): OperatorFunction<GuestBatch, RunStreamItem> {
  return operator<GuestBatch, RunStreamItem>((out) => {
    const sim = new Simulation(setup, (b) => out.next(b));
    sim.attach(setup.driver);
    return {
      next: (b) => sim.step(b),
      complete: () => out.next(sim.finish()),
    };
  });
}
