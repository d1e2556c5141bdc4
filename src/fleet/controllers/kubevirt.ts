import { z } from 'zod';
import type { PlannedMigration } from '../scenario-file.js';
import { AdmissionQueue } from './admission-queue.js';
import type { Controller, FleetBudget, FleetHandle } from './controller.js';
import { parseSettings } from './controller-settings.js';
import { KUBEVIRT_PERMISSIONS, KUBEVIRT_QUOTAS } from './kubevirt-migration-config.js';
import { kubevirtMigrationOptions } from './kubevirt-migration-options.js';
import { Monitors } from './monitors.js';

/**
 * KubeVirt's live-migration controller, at release v1.6.0:
 *
 * - Defaults: pkg/virt-config/virt-config.go (ParallelMigrationsPerClusterDefault
 *   5, ParallelOutboundMigrationsPerNodeDefault 2, BandwidthPerMigrationDefault
 *   "0Mi" = no limit, MigrationCompletionTimeoutPerGiB 150 s,
 *   MigrationProgressTimeout 150 s, allowAutoConverge and allowPostCopy
 *   false); allowWorkloadDisruption defaults to allowPostCopy
 *   (ClusterConfig.GetMigrationConfiguration).
 * - Admission: the evacuation controller starts migrations up to
 *   parallelMigrationsPerCluster in all and parallelOutboundMigrationsPerNode
 *   per source node (pkg/virt-controller/watch/drain/evacuation/evacuation.go).
 * - Bandwidth: bandwidthPerMigration goes to libvirt as the migration's
 *   max speed; 0 sets none, and libvirt then leaves QEMU unlimited.
 * - multifd: 8 channels unless the VMI has a CPU limit or post-copy is
 *   allowed (kubevirt-migration-options.ts).
 * - The monitor (pkg/virt-launcher/virtwrap/live-migration-source.go,
 *   migrationMonitor.startMonitor and processInflightMigration) polls the
 *   job stats every monitorSleepPeriodMS = 400 ms. Progress: whenever
 *   dataRemaining is below the previous poll's (progressWatermark holds the
 *   last value, not the best), lastProgressUpdate moves to now. The budget
 *   acceptableCompletionTime = completionTimeoutPerGiB x the migration's
 *   data size in GB, rounded up (getVMIMigrationDataSize: memory plus
 *   migrated disks, Quantity.ScaledValue(Giga), a ceiling: a 1 GiB guest
 *   counts 2). Each poll, in this order: in post-copy nothing; past the
 *   budget with allowWorkloadDisruption, post-copy if allowed, else pause
 *   the guest and double the budget; no progress for progressTimeout
 *   seconds, abort ("stuck"); past the budget, abort. Elapsed times are
 *   whole seconds (integer division by time.Second).
 */
const settingsSchema = z.strictObject({
  ...KUBEVIRT_QUOTAS,
  progressTimeout: z.number().int().nonnegative().default(150),
  ...KUBEVIRT_PERMISSIONS,
});

const MONITOR_SLEEP_NS = 400e6;
const SECOND_NS = 1e9;

interface MonitorState {
  readonly startNs: number;
  acceptableCompletionS: number;
  progressWatermark: number;
  lastProgressNs: number;
  paused: boolean;
}

/** What KubeVirt's monitor holds a migration to (0 turns either off) and what it reads. */
function kubevirtBudget(completionS: number, progressTimeoutS: number): FleetBudget {
  return {
    ...(completionS > 0 ? { completionNs: completionS * SECOND_NS } : {}),
    ...(progressTimeoutS > 0 ? { progressTimeoutNs: progressTimeoutS * SECOND_NS } : {}),
    reads: `dataRemaining (virDomainGetJobStats) every ${MONITOR_SLEEP_NS / 1e6} ms`,
  };
}

export function kubevirtController(raw: Readonly<Record<string, unknown>>): Controller {
  const s = parseSettings(settingsSchema, raw);
  const allowWorkloadDisruption = s.allowWorkloadDisruption ?? s.allowPostCopy;
  const monitors = new Monitors<MonitorState>(MONITOR_SLEEP_NS);
  const queue = new AdmissionQueue(s.parallelMigrationsPerCluster, s.parallelOutboundMigrationsPerNode, (m, fleet) => kubevirtMigrationOptions(s, fleet.vms[m.vm]!));
  return {
    name: 'kubevirt',
    get nextPollNs() {
      return monitors.nextPollNs;
    },
    request(m: PlannedMigration, fleet: FleetHandle) {
      queue.request(m, fleet);
    },
    poll(fleet: FleetHandle) {
      const now = fleet.nowNs;
      for (const [vm, st] of monitors.due(now)) {
        const ctl = fleet.control(vm);
        const f = ctl.figures();
        if (f.status !== 'active' && f.status !== 'postcopy-active') continue;
        if (st.progressWatermark === 0 || f.remainingBytes < st.progressWatermark) st.lastProgressNs = now;
        st.progressWatermark = f.remainingBytes;
        const elapsedS = Math.floor((now - st.startNs) / SECOND_NS);
        const pastBudget = st.acceptableCompletionS !== 0 && elapsedS > st.acceptableCompletionS;
        const stuckS = Math.floor((now - st.lastProgressNs) / SECOND_NS);
        if (f.status === 'postcopy-active') continue;
        if (allowWorkloadDisruption && pastBudget && !st.paused) {
          if (s.allowPostCopy) {
            ctl.startPostcopy('completion timeout');
            fleet.note('postcopy', vm, `not completed after ${st.acceptableCompletionS}s: starting post copy mode (allowPostCopy)`);
          } else {
            ctl.pause('completion timeout', now);
            st.acceptableCompletionS *= 2;
            st.paused = true;
            fleet.budget(vm, kubevirtBudget(st.acceptableCompletionS, s.progressTimeout), `doubled to ${st.acceptableCompletionS} s when the guest was paused`);
            fleet.note('paused', vm, `not completed in its budget: pausing the guest so the migration completes (allowWorkloadDisruption), budget doubled to ${st.acceptableCompletionS}s`);
          }
        } else if (s.progressTimeout !== 0 && stuckS > s.progressTimeout) {
          const reason = `Live migration stuck for ${stuckS} seconds and has been aborted`;
          ctl.abort(reason);
          fleet.note('abort', vm, `${reason} (progressTimeout ${s.progressTimeout}s)`);
          monitors.remove(vm);
        } else if (pastBudget) {
          const reason = `Live migration is not completed after ${st.acceptableCompletionS} seconds and has been aborted`;
          ctl.abort(reason);
          fleet.note('abort', vm, `${reason} (completionTimeoutPerGiB ${s.completionTimeoutPerGiB}s)`);
          monitors.remove(vm);
        }
      }
    },
    started(m: PlannedMigration, fleet: FleetHandle) {
      const now = fleet.nowNs;
      // getVMIMigrationDataSize: the guest's memory (no migrated disks here) in GB, rounded up.
      const dataGb = Math.ceil(fleet.vms[m.vm]!.memBytes / 1e9);
      const budgetS = s.completionTimeoutPerGiB * dataGb;
      monitors.add(m.vm, now, { startNs: now, acceptableCompletionS: budgetS, progressWatermark: 0, lastProgressNs: now, paused: false });
      fleet.budget(m.vm, kubevirtBudget(budgetS, s.progressTimeout), `completionTimeoutPerGiB ${s.completionTimeoutPerGiB} s x ${dataGb} GB (RAM, rounded up) = ${budgetS} s; progressTimeout ${s.progressTimeout} s`);
    },
    ended(m: PlannedMigration, fleet: FleetHandle) {
      monitors.remove(m.vm);
      queue.admit(fleet);
    },
  };
}
