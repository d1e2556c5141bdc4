import type { DriverFactory } from '../driver.js';
import { TrackerPairingError } from '../make-tracker.js';
import { KVM_TRACKERS } from '../tracker.js';
import { Link } from './link.js';
import { makeMigration } from './make-migration.js';
import type { MigrationOptions } from './migration-options.js';

/**
 * The toolstack of a migration run: the policy `opts` names, over a context
 * built from the simulation's reducers (its tracker's log-dirty interface,
 * the clock, the oracle, the run stream) and a link of its own.
 */
export function migrationDriver(opts: MigrationOptions): DriverFactory {
  return (w) => {
    // Direct mode has no log-dirty (DESIGN section 6): only a checkpoint,
    // which pauses the guest for the whole save, can move such a guest.
    if (w.tracker.name === 'direct' && opts.policy !== 'checkpoint') {
      throw new TrackerPairingError(`tracker 'direct' has no log-dirty, so policy '${opts.policy}' cannot migrate it live: use --policy checkpoint, or --tracker shadow for a live migration of a PV guest`);
    }
    // KVM's dirty logging is QEMU's to drive: its GET/CLEAR and ring protocol is QEMU's.
    if (KVM_TRACKERS.includes(w.tracker.name) && opts.policy !== 'qemu') {
      throw new TrackerPairingError(`tracker '${w.tracker.name}' is KVM's dirty logging, which QEMU drives: use --policy qemu (policy '${opts.policy}' is modelled on Xen's toolstack)`);
    }
    const multifd = (opts.multifdChannels ?? 0) > 0;
    const xbzrle = (opts.xbzrleCacheBytes ?? 0) > 0;
    if ((multifd || xbzrle) && opts.policy !== 'qemu') {
      throw new TrackerPairingError(`${multifd ? '--multifd' : '--xbzrle-cache'} is QEMU's: use --policy qemu (policy '${opts.policy}' has no ${multifd ? 'multifd channels' : 'XBZRLE'})`);
    }
    // migration/options.c migrate_caps_check.
    if (multifd && xbzrle) throw new TrackerPairingError('--multifd and --xbzrle-cache cannot be used together: "Multifd is not compatible with xbzrle" (QEMU\'s migrate_caps_check)');
    if (xbzrle && w.writtenBytes === undefined) throw new TrackerPairingError('--xbzrle-cache needs the bytes each page was written, which this run does not count (give the run the xbzrle cache size when it is built)');
    // migrate_caps_check: "dirty-limit conflicts with auto-converge".
    if (w.tracker.dirtyLimitConfigured && opts.autoConverge) {
      throw new TrackerPairingError('--dirty-limit conflicts with --auto-converge (QEMU allows one of the two capabilities)');
    }
    return makeMigration(
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
        ...(w.writtenBytes ? { writtenBytes: w.writtenBytes } : {}),
      },
      opts,
      w.run,
    );
  };
}
