import type { DriverFactory } from '../driver.js';
import { Link } from './link.js';
import { makeMigration } from './make-migration.js';
import type { MigrationOptions } from './migration-options.js';

/**
 * The toolstack of a migration run: the policy `opts` names, over a context
 * built from the simulation's reducers (its tracker's log-dirty interface,
 * the clock, the oracle, the run stream) and a link of its own.
 */
export function migrationDriver(opts: MigrationOptions): DriverFactory {
  return (w) =>
    makeMigration(
      {
        guest: w.guest,
        seed: w.seed,
        costs: w.costs,
        link: new Link(opts.bandwidthBytesPerSec),
        logDirty: w.tracker,
        clock: w.clock,
        run: w.run,
        oracle: w.oracle,
        mmu: w.mmu,
        host: w.host,
      },
      opts,
      w.run,
    );
}
