import { from } from 'rxjs';
import type { GuestSource } from '../src/api/guest-source.js';
import { apacheBatches, plainWalkLoop } from './mmu-bench.js';
import { runMigration } from '../src/api/run-migration.js';
import { runRounds } from '../src/api/run-rounds.js';
import type { TrackerName } from '../src/reducers/tracker.js';
import { type BenchRow, coldAndWarm, mPerSec, timeIt } from './bench-util.js';
import { compareTrackers } from '../src/api/compare.js';

const TARGETS: Record<string, number> = { hap: 30e6, pml: 30e6, shadow: 15e6 };

/**
 * The full path per tracker on the apache default: MMU + tracker + oracle
 * under 100 ms log-dirty rounds, then a whole xen-policy migration, then the
 * three-tracker compare's wall time.
 */
export function migrationBench(seconds: number): BenchRow[] {
  const rows: BenchRow[] = [];
  const trackers: TrackerName[] = ['shadow', 'hap', 'pml'];
  // Guest events generated once and kept in memory: the figures are the
  // reducers' (MMU + tracker + oracle + toolstack), not the workload's.
  const apache = apacheBatches(seconds);
  const source: GuestSource = { header: apache.header, label: 'apache', events: () => from(apache.batches) };
  // The yardstick, in this run: the plain walk loop over the same columns.
  const loopSeconds = coldAndWarm(3, () => plainWalkLoop(apache.batches, apache.memPages, apache.vcpus)).warm.seconds;
  rows.push({ scenario: 'track', metric: 'plain walk loop (same run, best of 3 after one)', value: mPerSec(apache.events, loopSeconds) });
  for (const tracker of trackers) {
    const r = coldAndWarm(3, () => runRounds(source, { tracker }));
    const ev = r.warm.value.guestEvents;
    rows.push({ scenario: `track ${tracker}`, metric: 'MMU + tracker + oracle, 100 ms rounds (first run, JIT cold)', value: mPerSec(ev, r.cold.seconds) });
    rows.push({ scenario: `track ${tracker}`, metric: 'MMU + tracker + oracle, 100 ms rounds (best of 3 after it)', value: mPerSec(ev, r.warm.seconds), target: `>= ${TARGETS[tracker]! / 1e6} M/s`, ok: ev / r.warm.seconds >= TARGETS[tracker]! });
    rows.push({ scenario: `track ${tracker}`, metric: 'the same, against the plain walk loop', value: `${(r.warm.seconds / loopSeconds).toFixed(2)}x` });
    const m = coldAndWarm(2, () => runMigration(source, { tracker, migration: { startNs: (seconds * 1e9) / 2 } })).warm;
    rows.push({ scenario: `migrate ${tracker}`, metric: `xen migration from mid-run, end to end (downtime ${(m.value.downtimeNs / 1e6).toFixed(1)} ms)`, value: mPerSec(m.value.guestEvents, m.seconds) });
  }
  const c = timeIt(() => compareTrackers(source, trackers, { migration: { startNs: (seconds * 1e9) / 2 } }));
  rows.push({ scenario: 'compare', metric: `${trackers.join(' vs ')} on apache (${seconds} s)`, value: `${c.seconds.toFixed(2)} s wall` });
  return rows;
}
