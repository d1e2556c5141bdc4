import { guestSource } from '../src/api/guest-source.js';
import { runMigration } from '../src/api/run-migration.js';
import { runRounds } from '../src/api/run-rounds.js';
import { TRACKER_NAMES, type TrackerName } from '../src/reducers/tracker.js';
import { type BenchRow, mPerSec, timeIt } from './bench-util.js';
import { compareTrackers } from '../src/api/compare.js';
import { makeTracker } from '../src/reducers/make-tracker.js';

const TARGETS: Record<string, number> = { hap: 30e6, pml: 30e6, shadow: 15e6 };

function available(t: TrackerName): boolean {
  try {
    // Probe the registry without running anything.
    makeTracker(t, { guest: { type: 'hvm', paging: 'x86-64', memPages: 64, vcpus: 1 } } as never);
    return true;
  } catch (e) {
    return !/not available/.test((e as Error).message);
  }
}

/**
 * The full path per tracker on the apache default: MMU + tracker + oracle
 * under 100 ms log-dirty rounds, then a whole xen-policy migration, then the
 * three-tracker compare's wall time.
 */
export function migrationBench(seconds: number): BenchRow[] {
  const rows: BenchRow[] = [];
  const trackers = (['shadow', 'hap', 'pml'] as TrackerName[]).filter((t) => TRACKER_NAMES.includes(t) && available(t));
  const source = guestSource('apache', { seed: 1, durationNs: seconds * 1e9 });
  for (const tracker of trackers) {
    const r = timeIt(() => runRounds(source, { tracker }));
    const ev = r.value.guestEvents;
    rows.push({ scenario: `track ${tracker}`, metric: 'generate + MMU + tracker + oracle', value: mPerSec(ev, r.seconds), target: `>= ${TARGETS[tracker]! / 1e6} M/s`, ok: ev / r.seconds >= TARGETS[tracker]! });
    const m = timeIt(() => runMigration(source, { tracker }));
    rows.push({ scenario: `migrate ${tracker}`, metric: `xen migration end to end (downtime ${(m.value.downtimeNs / 1e6).toFixed(1)} ms)`, value: mPerSec(m.value.guestEvents, m.seconds) });
  }
  if (trackers.length > 1) {
    const c = timeIt(() => compareTrackers(source, trackers, {}));
    rows.push({ scenario: 'compare', metric: `${trackers.join(' vs ')} on apache (${seconds} s)`, value: `${c.seconds.toFixed(2)} s wall` });
  }
  return rows;
}
