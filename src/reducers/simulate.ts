import type { OperatorFunction } from '../util/rx.js';
import { copyGuestBatch, type GuestBatch } from '../events/guest-batch.js';
import type { RunBatch } from '../events/run-batch.js';
import { operator } from '../util/operator.js';
import type { DriverFactory } from './driver.js';
import type { RunFinal } from './run-final.js';
import { Simulation, type SimulationSetup } from './simulation.js';

/** A run: the guest's simulation and the toolstack that drives it. */
export interface RunSetup extends SimulationSetup {
  readonly driver: DriverFactory;
  /**
   * `afterEnd: 'loop'`: when the guest's events end before the driver has
   * completed, replay them, shifted in time by their span, at most this many
   * times (0 or absent: never). The operator keeps a copy of the events for
   * it (19 bytes an event).
   */
  readonly loopAfterEnd?: number;
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
    const maxLoops = setup.loopAfterEnd ?? 0;
    const kept: GuestBatch[] = [];
    return {
      next: (b) => {
        if (maxLoops > 0) kept.push(copyGuestBatch(b));
        sim.step(b);
      },
      complete: () => {
        if (maxLoops > 0) sim.loop(kept, maxLoops);
        out.next(sim.finish());
      },
    };
  });
}
