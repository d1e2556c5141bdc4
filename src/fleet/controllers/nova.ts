import { z } from 'zod';
import type { PlannedMigration } from '../scenario-file.js';
import { AdmissionQueue } from './admission-queue.js';
import type { Controller, FleetHandle } from './controller.js';
import { parseSettings } from './controller-settings.js';
import { Monitors } from './monitors.js';

/**
 * OpenStack Nova's libvirt driver (openstack/nova master of August 2026,
 * 33.0.0-373-g00a0304):
 *
 * - Settings and defaults: nova/conf/libvirt.py (live_migration_bandwidth 0
 *   = no limit, in MiB/s; live_migration_downtime 500 ms, _steps 10,
 *   _delay 75 s per GiB; live_migration_completion_timeout 800 s per GiB;
 *   live_migration_timeout_action abort; live_migration_permit_post_copy and
 *   _permit_auto_converge false) and nova/conf/compute.py
 *   (max_concurrent_live_migrations 1 per compute host; 0 = no limit).
 * - The monitor: nova/virt/libvirt/driver.py _live_migration_monitor polls
 *   every 0.5 s. data_gb = RAM in GiB, at least 2 (_live_migration_data_gb;
 *   no block migration here). Each poll: should_trigger_timeout_action
 *   (nova/virt/libvirt/migration.py: elapsed > int(completion_timeout x
 *   data_gb), never in post-copy) then abort_job, or force_complete, which
 *   run_tasks turns into migrate_start_postcopy if post-copy is permitted
 *   and a pause of the guest if not; then update_downtime raises the
 *   downtime limit along downtime_steps(data_gb): step i at int(delay x
 *   data_gb x i) seconds sets int(base + offset x i) ms, with base =
 *   downtime / steps and offset = (downtime - base) / steps; a step applies
 *   once elapsed > its time.
 * - With post-copy permitted Nova does not ask for auto-converge
 *   (LibvirtDriver._parse_migration_flags drops it).
 * - live_migration_parallel_connections (default 1; at most QEMU's 255): above 1,
 *   _handle_live_migration_parallel adds VIR_MIGRATE_PARALLEL and
 *   Guest.migrate passes VIR_MIGRATE_PARAM_PARALLEL_CONNECTIONS, which
 *   libvirt turns into QEMU's multifd with that many channels; only a VM
 *   under the `qemu` policy gets it. With post-copy permitted too, Nova
 *   requires QEMU 10.1 (LibvirtDriver.init_host), which migsim's QEMU is.
 */
const settingsSchema = z.strictObject({
  max_concurrent_live_migrations: z.number().int().nonnegative().default(1),
  live_migration_bandwidth: z.number().int().nonnegative().default(0),
  live_migration_downtime: z.number().int().min(100).default(500),
  live_migration_downtime_steps: z.number().int().min(3).default(10),
  live_migration_downtime_delay: z.number().int().min(3).default(75),
  live_migration_completion_timeout: z.number().int().nonnegative().default(800),
  live_migration_timeout_action: z.enum(['abort', 'force_complete']).default('abort'),
  live_migration_permit_post_copy: z.boolean().default(false),
  live_migration_permit_auto_converge: z.boolean().default(false),
  live_migration_parallel_connections: z.number().int().nonnegative().max(255).default(1),
});

const POLL_NS = 500e6;
const GIB = 1024 ** 3;

interface MonitorState {
  readonly startNs: number;
  readonly completionTimeoutS: number;
  readonly steps: readonly (readonly [number, number])[];
  downtimeMs: number | undefined;
  forced: boolean;
}

/** migration.py downtime_steps: (seconds, milliseconds) pairs. */
export function novaDowntimeSteps(dataGb: number, downtimeMs: number, steps: number, delayS: number): [number, number][] {
  const delay = Math.trunc(delayS * dataGb);
  const base = downtimeMs / steps;
  const offset = (downtimeMs - base) / steps;
  const out: [number, number][] = [];
  for (let i = 0; i <= steps; i++) out.push([Math.trunc(delay * i), Math.trunc(base + offset * i)]);
  return out;
}

export function novaController(raw: Readonly<Record<string, unknown>>): Controller {
  const s = parseSettings(settingsSchema, raw);
  const postcopy = s.live_migration_permit_post_copy;
  const monitors = new Monitors<MonitorState>(POLL_NS);
  const parallel = s.live_migration_parallel_connections;
  const queue = new AdmissionQueue(0, s.max_concurrent_live_migrations, (m, fleet) => ({
    maxBandwidthBytesPerSec: s.live_migration_bandwidth > 0 ? s.live_migration_bandwidth * 1024 * 1024 : Infinity,
    autoConverge: s.live_migration_permit_auto_converge && !postcopy,
    ...(parallel > 1 && fleet.vms[m.vm]!.migration.policy === 'qemu' ? { multifdChannels: parallel } : {}),
  }));
  return {
    name: 'nova',
    get nextPollNs() {
      return monitors.nextPollNs;
    },
    request(m: PlannedMigration, fleet: FleetHandle) {
      queue.request(m, fleet);
    },
    started(m: PlannedMigration, fleet: FleetHandle) {
      const dataGb = Math.max(2, fleet.vms[m.vm]!.memBytes / GIB);
      const completionTimeoutS = Math.trunc(s.live_migration_completion_timeout * dataGb);
      fleet.budget(
        m.vm,
        { ...(completionTimeoutS > 0 ? { completionNs: completionTimeoutS * 1e9 } : {}), reads: `the job's data remaining (virDomainGetJobInfo) every ${POLL_NS / 1e6} ms` },
        `live_migration_completion_timeout ${s.live_migration_completion_timeout} s per GiB x ${dataGb} GiB (RAM, at least 2) = ${completionTimeoutS} s, then ${s.live_migration_timeout_action}`,
      );
      monitors.add(m.vm, fleet.nowNs, {
        startNs: fleet.nowNs,
        completionTimeoutS,
        steps: novaDowntimeSteps(dataGb, s.live_migration_downtime, s.live_migration_downtime_steps, s.live_migration_downtime_delay),
        downtimeMs: undefined,
        forced: false,
      });
    },
    poll(fleet: FleetHandle) {
      const now = fleet.nowNs;
      for (const [vm, st] of monitors.due(now)) {
        const ctl = fleet.control(vm);
        const f = ctl.figures();
        if (f.status !== 'active' && f.status !== 'postcopy-active') continue;
        const elapsedS = (now - st.startNs) / 1e9;
        if (st.completionTimeoutS !== 0 && f.status !== 'postcopy-active' && elapsedS > st.completionTimeoutS) {
          if (s.live_migration_timeout_action === 'abort') {
            const reason = `Live migration not completed after ${st.completionTimeoutS} sec: aborted (live_migration_timeout_action abort)`;
            ctl.abort(reason);
            fleet.note('abort', vm, reason);
            monitors.remove(vm);
            continue;
          }
          if (!st.forced) {
            st.forced = true;
            if (postcopy) {
              ctl.startPostcopy('force_complete');
              fleet.note('postcopy', vm, `not completed after ${st.completionTimeoutS} sec: force_complete switches to post-copy`);
            } else {
              ctl.pause('force_complete', now);
              fleet.note('paused', vm, `not completed after ${st.completionTimeoutS} sec: force_complete pauses the guest`);
            }
          }
        }
        let step: readonly [number, number] | undefined;
        for (const x of st.steps) if (elapsedS > x[0]) step = x;
        if (step !== undefined && step[1] !== st.downtimeMs) {
          st.downtimeMs = step[1];
          ctl.setDowntimeLimit(step[1] * 1e6);
          fleet.note('downtime-limit', vm, `max downtime raised to ${step[1]} ms (step at ${step[0]} s)`);
        }
      }
    },
    ended(m: PlannedMigration, fleet: FleetHandle) {
      monitors.remove(m.vm);
      queue.admit(fleet);
    },
  };
}
