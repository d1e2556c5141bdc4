import { from } from 'rxjs';
import { vmSeed } from '../src/api/fleet.js';
import type { GuestSource } from '../src/api/guest-source.js';
import { configFromHeader, workloadHeader } from '../src/api/record.js';
import { runMigration } from '../src/api/run-migration.js';
import { simulationSetup } from '../src/api/simulation-setup.js';
import { copyGuestBatch, type GuestBatch } from '../src/events/guest-batch.js';
import { makeController } from '../src/fleet/controllers/make-controller.js';
import { type FleetResult, runFleet } from '../src/fleet/run-fleet.js';
import { parseScenario, type Scenario } from '../src/fleet/scenario-file.js';
import type { TraceHeader } from '../src/trace/trace-records.js';
import { drainSync } from '../src/util/drain-sync.js';
import { findWorkload } from '../src/workloads/registry.js';
import { workloadEvents } from '../src/workloads/workload-events.js';
import { type BenchRow, timeIt } from './bench-util.js';

const VMS = 16;

/** Sixteen Apache-like guests on host a, drained to b, c and d over 10 Gbit NICs under KubeVirt with `parallel` outbound migrations. */
function evacuation(seconds: number, parallel: number): string {
  const vms = Array.from({ length: VMS }, (_, i) => `  - { name: web${i}, host: a, workload: apache, memory: 1GiB, duration: ${seconds}s }`);
  return `seed: 5
hosts:
  - { name: a, nic: 10Gbit }
  - { name: b, nic: 10Gbit }
  - { name: c, nic: 10Gbit }
  - { name: d, nic: 10Gbit }
vms:
${vms.join('\n')}
plan:
  - evacuate a at 2s
orchestrator:
  name: kubevirt
  parallelMigrationsPerCluster: 16
  parallelOutboundMigrationsPerNode: ${parallel}
`;
}

/**
 * The fleet scheduler's cost: a 16-VM evacuation (apache-like guests) run
 * as one fleet against the sum of the same 16 migrations run alone (each
 * with the whole link, from the same start), per guest event folded, with
 * every guest's events generated beforehand so both figures are the
 * reducers' and the scheduler's; and the drain time for 1, 2, 4 and 8
 * parallel migrations out of the host.
 */
export function fleetBench(seconds: number): BenchRow[] {
  const rows: BenchRow[] = [];
  // One at a time: each migration has the whole NIC, as it would alone, so
  // the fleet and the single runs do the same work and the difference is
  // the scheduler's (interleaving, shares, figures, the controller).
  const base = parseScenario(evacuation(seconds, 1), 'bench.yaml');
  const guests = base.vms.map((vm) => {
    const header = workloadHeader({ workload: 'apache', seed: vmSeed(base, vm), durationNs: vm.durationNs, memBytes: vm.memBytes, vcpus: vm.vcpus, guest: 'hvm', paging: 'x86-64' });
    const batches: GuestBatch[] = [];
    drainSync(workloadEvents(findWorkload('apache'), configFromHeader(header), undefined, header.chunkEvents), (b) => batches.push(copyGuestBatch(b)));
    return { header, batches };
  });
  const runOne = (s: Scenario): FleetResult =>
    runFleet(s, {
      controller: makeController(s.orchestrator.name, s.orchestrator.settings),
      guest: (vm) => {
        const g = guests[vm.index]!;
        let i = 0;
        return { setup: simulationSetup(g.header, { tracker: vm.tracker }), pull: { next: () => g.batches[i++], close: () => {} } };
      },
    });
  // The first run warms the JIT; the second is the one measured (the single runs after it are warm too).
  timeIt(() => runOne(base));
  const fleet = timeIt(() => runOne(base));
  const fleetEvents = fleet.value.vms.reduce((n, v) => n + (v.summary?.guestEvents ?? 0), 0);
  // Alone: each migration from the time it started in the fleet, with the
  // whole NIC, over the same guest events the fleet folded for it (the
  // fleet stops folding a guest once its migration has ended).
  let aloneSeconds = 0;
  let aloneEvents = 0;
  for (const v of fleet.value.vms) {
    const g = guests[base.vms.findIndex((x) => x.name === v.vm)]!;
    const folded: GuestBatch[] = [];
    for (let n = 0, k = 0; k < g.batches.length && n + g.batches[k]!.count <= (v.summary?.guestEvents ?? 0); k++) {
      folded.push(g.batches[k]!);
      n += g.batches[k]!.count;
    }
    const source: GuestSource = { header: g.header as TraceHeader, label: v.vm, events: () => from(folded) };
    const t = timeIt(() => runMigration(source, { tracker: 'hap', migration: { policy: 'qemu', startNs: v.startedAtNs, bandwidthBytesPerSec: 1.25e9, maxBandwidthBytesPerSec: Infinity, afterEnd: 'stop' } }));
    aloneSeconds += t.seconds;
    aloneEvents += t.value.guestEvents;
  }
  const perFleet = fleet.seconds / fleetEvents;
  const perAlone = aloneSeconds / aloneEvents;
  rows.push({ scenario: 'fleet', metric: `16-VM evacuation (apache, ${seconds} s guests, one at a time): wall time`, value: `${fleet.seconds.toFixed(2)} s for ${(fleetEvents / 1e6).toFixed(1)} M guest events` });
  rows.push({ scenario: 'fleet', metric: 'the 16 migrations run alone, summed', value: `${aloneSeconds.toFixed(2)} s for ${(aloneEvents / 1e6).toFixed(1)} M guest events` });
  rows.push({ scenario: 'fleet', metric: 'scheduler overhead: fleet time per event against alone', value: `${(perFleet / perAlone).toFixed(2)}x`, target: '<= 1.5x', ok: perFleet / perAlone <= 1.5 });
  for (const parallel of [1, 2, 4, 8]) {
    const r = runOne(parseScenario(evacuation(seconds, parallel), 'bench.yaml'));
    const done = r.vms.filter((v) => v.outcome === 'completed').length;
    const downtimes = r.vms.map((v) => v.downtimeNs).sort((a, b) => a - b);
    rows.push({
      scenario: 'fleet makespan',
      metric: `parallelOutboundMigrationsPerNode ${parallel}`,
      value: `${(r.makespanNs / 1e9).toFixed(2)} s drain, ${done}/16 completed, downtime median ${(downtimes[8]! / 1e6).toFixed(1)} ms, max ${(downtimes[15]! / 1e6).toFixed(1)} ms`,
    });
  }
  return rows;
}
