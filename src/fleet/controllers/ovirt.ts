import { z } from 'zod';
import type { PlannedMigration } from '../scenario-file.js';
import { AdmissionQueue } from './admission-queue.js';
import type { Controller, FleetHandle } from './controller.js';
import { parseSettings } from './controller-settings.js';
import { Monitors } from './monitors.js';

/**
 * oVirt's VDSM migration source with its legacy convergence schedule
 * (oVirt/vdsm master of June 2026, lib/vdsm/virt/migration.py):
 *
 * - Defaults: lib/vdsm/common/config.py.in (migration_max_bandwidth 52 MiB/s,
 *   migration_monitor_interval 10 s, migration_downtime 500 ms,
 *   migration_downtime_steps 5, max_outgoing_migrations 2).
 * - The schedule (SourceThread._legacy_convergence_schedule): downtimes from
 *   exponential_downtime(downtime, steps): offset = downtime / steps,
 *   base = (downtime - offset) ^ (1 / (steps - 1)), step i is
 *   int(offset + base^i); the first is set at the start, the others are
 *   stalling actions with limits 1, 2, ..., then the last again at limit 42,
 *   then abort.
 * - The monitor (MonitorThread.monitor_migration) polls every interval;
 *   whenever libvirt's memory iteration has grown since the last poll, it
 *   takes the schedule's head if its limit is below the iterations so far
 *   (_next_action): one action per poll at most. In post-copy it does
 *   nothing.
 * - Bandwidth: the engine splits the migration bandwidth between the
 *   migrations a host sends at once (the oVirt "Migration Enhancements"
 *   feature: one migration has all of it, two have half each); each
 *   migration's max speed is set again when one starts or ends
 *   (SourceThread.set_max_bandwidth, virDomainMigrateSetMaxSpeed).
 */
const settingsSchema = z.strictObject({
  migration_max_bandwidth: z.number().int().positive().default(52),
  migration_monitor_interval: z.number().int().positive().default(10),
  migration_downtime: z.number().int().min(100).default(500),
  migration_downtime_steps: z.number().int().positive().default(5),
  max_outgoing_migrations: z.number().int().positive().default(2),
});

/** vdsm's exponential_downtime, in milliseconds. */
export function exponentialDowntimeMs(downtimeMs: number, steps: number): number[] {
  if (steps <= 1) return [downtimeMs];
  const offset = downtimeMs / steps;
  const base = (downtimeMs - offset) ** (1 / (steps - 1));
  const out: number[] = [];
  for (let i = 0; i < steps; i++) out.push(Math.trunc(offset + base ** i));
  return out;
}

type Action = { readonly limit: number } & ({ readonly kind: 'downtime'; readonly ms: number } | { readonly kind: 'abort' });

interface MonitorState {
  initialIteration: number;
  lastIteration: number;
  readonly schedule: Action[];
}

export function ovirtController(raw: Readonly<Record<string, unknown>>): Controller {
  const s = parseSettings(settingsSchema, raw);
  const monitors = new Monitors<MonitorState>(s.migration_monitor_interval * 1e9);
  const totalBytesPerSec = s.migration_max_bandwidth * 1024 * 1024;
  const queue = new AdmissionQueue(0, s.max_outgoing_migrations, () => ({}));
  /** The engine's split: each migration leaving a host gets the host's migration bandwidth over how many leave it. */
  const split = (fleet: FleetHandle): void => {
    for (const r of fleet.running) {
      const from = fleet.vms[r.vm]!.host;
      const n = fleet.running.filter((x) => fleet.vms[x.vm]!.host === from).length;
      fleet.control(r.vm).setMaxBandwidth(Math.floor(totalBytesPerSec / n));
    }
  };
  return {
    name: 'ovirt',
    get nextPollNs() {
      return monitors.nextPollNs;
    },
    request(m: PlannedMigration, fleet: FleetHandle) {
      queue.request(m, fleet);
    },
    started(m: PlannedMigration, fleet: FleetHandle) {
      const downtimes = exponentialDowntimeMs(s.migration_downtime, s.migration_downtime_steps);
      const schedule: Action[] = downtimes.slice(1).map((ms, i) => ({ limit: i + 1, kind: 'downtime', ms }));
      schedule.push({ limit: 42, kind: 'downtime', ms: downtimes[downtimes.length - 1]! }, { limit: -1, kind: 'abort' });
      monitors.add(m.vm, fleet.nowNs, { initialIteration: -1, lastIteration: -1, schedule });
      fleet.control(m.vm).setDowntimeLimit(downtimes[0]! * 1e6);
      fleet.note('downtime-limit', m.vm, `max downtime ${downtimes[0]} ms (the schedule's init)`);
      fleet.budget(m.vm, { reads: `the memory iteration every ${s.migration_monitor_interval} s` }, `no time budget: ${schedule.length - 1} downtime steps as the iterations grow (limits ${schedule.slice(0, -1).map((a) => a.limit).join(', ')}), then abort`);
      split(fleet);
    },
    poll(fleet: FleetHandle) {
      for (const [vm, st] of monitors.due(fleet.nowNs)) {
        const ctl = fleet.control(vm);
        const f = ctl.figures();
        if (f.status !== 'active') continue;
        if (st.initialIteration < 0) st.initialIteration = st.lastIteration = f.dirtySyncCount;
        if (f.dirtySyncCount <= st.lastIteration) continue;
        st.lastIteration = f.dirtySyncCount;
        const iterations = st.lastIteration - st.initialIteration;
        const head = st.schedule[0];
        if (!head || !(head.limit < iterations)) continue;
        st.schedule.shift();
        if (head.kind === 'downtime') {
          ctl.setDowntimeLimit(head.ms * 1e6);
          fleet.note('downtime-limit', vm, `stalling for ${iterations} iterations: max downtime ${head.ms} ms`);
        } else {
          const reason = `stalling for ${iterations} iterations after the last downtime step: aborted (convergence schedule)`;
          ctl.abort(reason);
          fleet.note('abort', vm, reason);
          monitors.remove(vm);
        }
      }
    },
    ended(m: PlannedMigration, fleet: FleetHandle) {
      monitors.remove(m.vm);
      queue.admit(fleet);
      split(fleet);
    },
  };
}
