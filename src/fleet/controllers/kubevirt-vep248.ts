import { z } from 'zod';
import type { PlannedMigration } from '../scenario-file.js';
import type { MigrationControl } from '../vm-migration.js';
import { AdmissionQueue } from './admission-queue.js';
import type { Controller, FleetHandle } from './controller.js';
import { parseSettings } from './controller-settings.js';
import { KUBEVIRT_PERMISSIONS, KUBEVIRT_QUOTAS } from './kubevirt-migration-config.js';
import { kubevirtMigrationOptions } from './kubevirt-migration-options.js';
import { Monitors } from './monitors.js';

/**
 * KubeVirt's stall detector (enhancement VEP 248), as on kubevirt/kubevirt
 * main of August 2026 (v1.9.0-beta.0-1264-gd923fdb):
 * pkg/virt-launcher/virtwrap/stall-detector.go and the stall branch of
 * live-migration-source.go (handleStallDetection, processCompletionTimeouts,
 * triggerConvergenceAction). Defaults from pkg/virt-config/virt-config.go:
 * DefaultMigrationMaxDowntimeMs 900, StallMargin 4 %, StallProgressTimeout
 * 40 s, SwitchoverTimeout 60 s, EwmaAlpha 0.4, PrecopyPossibleFactor 1.5,
 * PatienceWindowDecayFactor 0.5, SearchLocalMinima true,
 * CompletionTimeoutFactor 2; admission, budget and polls as kubevirt.ts.
 *
 * - The monitor first caps QEMU's downtime at min(maxDowntime, 300 ms).
 * - At each iteration boundary (libvirt's migration-iteration event, one
 *   per bitmap sync; here taken at the next 400 ms poll, from the last
 *   sync's figures) it records (elapsed, remaining). Records older than
 *   StallProgressTimeout leave the window, the best of them kept; the
 *   migration is stalled when remaining is not below that best by more
 *   than StallMargin. Then the best remaining seen is the target, relaxed
 *   (the next best of the history) each time a patience window passes,
 *   the window shrinking by PatienceWindowDecayFactor; at a boundary whose
 *   remaining is within StallMargin of the target (a local minimum) it
 *   acts, if the implied downtime (remaining / EWMA bandwidth) fits the
 *   time left before the budget x CompletionTimeoutFactor: post-copy if
 *   allowed, a forced switchover (downtime limit 2,000 s) if disruption is
 *   allowed, a switchover at maxDowntime if the implied downtime is within
 *   it or PrecopyPossibleFactor times it, else abort.
 * - Between boundaries the polls feed the bandwidth EWMA (libvirt's
 *   memory bps: here bytes sent between polls).
 * - Past the switchover deadline (the budget at first, SwitchoverTimeout
 *   after a switchover was asked for) it starts post-copy or forces the
 *   switchover if allowed and completable, else aborts.
 */
const settingsSchema = z.strictObject({
  ...KUBEVIRT_QUOTAS,
  ...KUBEVIRT_PERMISSIONS,
  maxDowntimeMs: z.number().int().positive().default(900),
  stallMargin: z.number().int().nonnegative().default(4),
  stallProgressTimeout: z.number().int().positive().default(40),
  switchoverTimeout: z.number().int().positive().default(60),
  ewmaAlpha: z.number().positive().max(1).default(0.4),
  precopyPossibleFactor: z.number().positive().default(1.5),
  patienceWindowDecayFactor: z.number().positive().max(1).default(0.5),
  searchLocalMinima: z.boolean().default(true),
  completionTimeoutFactor: z.number().positive().default(2),
});
type Settings = z.output<typeof settingsSchema>;

const MONITOR_SLEEP_NS = 400e6;
/** pkg/util/migrations/migrations.go. */
const QEMU_DEFAULT_TARGET_DOWNTIME_MS = 300;
const QEMU_MAX_MIGRATION_DOWNTIME_MS = 2_000_000;

interface IterationRecord {
  readonly elapsedMs: number;
  readonly remainingBytes: number;
}

type Action = 'nothing' | 'abort' | 'postcopy' | 'hard-stop-and-copy' | 'soft-stop-and-copy';

/** stall-detector.go's stallDetector, one per migration. */
class StallDetector {
  private minCandidates: IterationRecord[] = [];
  private minOutsideWindow: IterationRecord | undefined;
  private stallDetected = false;
  private history: number[] = [];
  bestRemainingBytes = 0;
  private relaxationDeadlineMs = 0;
  private relaxationPatienceMs = 0;
  ewmaBandwidthBps = 0;
  switchoverInitiated = false;

  constructor(private readonly s: Settings) {}

  updateBandwidth(sampleBps: number): void {
    this.ewmaBandwidthBps = this.ewmaBandwidthBps === 0 ? sampleBps : this.s.ewmaAlpha * sampleBps + (1 - this.s.ewmaAlpha) * this.ewmaBandwidthBps;
  }

  /** processStallDetectionIteration: whether the migration is (still) stalled at this boundary. */
  iteration(r: IterationRecord): boolean {
    if (this.ewmaBandwidthBps === 0 || this.switchoverInitiated) return false;
    this.updateCandidates(r);
    if (this.stallDetected) {
      this.relax(r);
      return true;
    }
    if (!this.minOutsideWindow) return false;
    const threshold = Math.trunc(this.minOutsideWindow.remainingBytes * (1 - this.s.stallMargin / 100));
    if (r.remainingBytes < threshold) return false;
    this.bestRemainingBytes = Math.min(this.minOutsideWindow.remainingBytes, ...this.minCandidates.map((c) => c.remainingBytes));
    this.history = [];
    this.relaxationPatienceMs = this.s.stallProgressTimeout * 1000;
    this.relaxationDeadlineMs = r.elapsedMs + this.relaxationPatienceMs;
    this.stallDetected = true;
    return true;
  }

  estimateDowntimeMs(r: IterationRecord | undefined): number {
    if (this.ewmaBandwidthBps === 0 || !r) return 0;
    return Math.min(0xffffffff, Math.trunc(r.remainingBytes / (this.ewmaBandwidthBps / 1000)));
  }

  canFinishByDeadline(elapsedS: number, deadlineS: number, downtimeMs: number): boolean {
    return this.ewmaBandwidthBps !== 0 && downtimeMs <= (deadlineS - elapsedS) * 1000;
  }

  /** decideAction. */
  decide(r: IterationRecord, downtimeMs: number, elapsedS: number, budgetS: number, allowDisruption: boolean): [Action, string] {
    if (this.switchoverInitiated) return ['nothing', 'switchover already initiated'];
    const atMinimum = r.remainingBytes <= Math.trunc(this.bestRemainingBytes * (1 + this.s.stallMargin / 100));
    if (!atMinimum && this.s.searchLocalMinima) return ['nothing', 'not at a local minima yet'];
    const deadlineS = Math.trunc(budgetS * this.s.completionTimeoutFactor);
    if (!this.canFinishByDeadline(elapsedS, deadlineS, downtimeMs)) {
      return ['nothing', `estimated transfer time (${downtimeMs}ms) exceeds remaining budget (${(deadlineS - elapsedS) * 1000}ms) before completion deadline (${deadlineS}s)`];
    }
    if (allowDisruption && this.s.allowPostCopy) return ['postcopy', `estimated transfer time ${downtimeMs}ms is a local minima`];
    if (allowDisruption) return ['hard-stop-and-copy', `estimated downtime ${downtimeMs}ms is a local minima`];
    const max = this.s.maxDowntimeMs;
    if (downtimeMs <= max) return ['soft-stop-and-copy', `estimated downtime ${downtimeMs}ms within max allowed downtime ${max}ms`];
    if (downtimeMs <= max * this.s.precopyPossibleFactor) {
      return ['soft-stop-and-copy', `estimated downtime ${downtimeMs}ms within tolerable factor ${this.s.precopyPossibleFactor}x to max allowed downtime ${max}ms`];
    }
    return ['abort', `estimated downtime ${downtimeMs}ms exceeds max allowed downtime ${max}ms by a factor of more than ${this.s.precopyPossibleFactor}x`];
  }

  /** updateCandidates: the window of monotonically falling records, and the best that aged out of it. */
  private updateCandidates(r: IterationRecord): void {
    const windowMs = this.s.stallProgressTimeout * 1000;
    while (this.minCandidates.length > 0 && r.elapsedMs - this.minCandidates[0]!.elapsedMs >= windowMs) {
      const oldest = this.minCandidates.shift()!;
      if (!this.minOutsideWindow || oldest.remainingBytes < this.minOutsideWindow.remainingBytes) this.minOutsideWindow = oldest;
    }
    if (this.minOutsideWindow && r.remainingBytes > this.minOutsideWindow.remainingBytes) return;
    const last = this.minCandidates[this.minCandidates.length - 1];
    if (last && r.remainingBytes >= last.remainingBytes) return;
    this.minCandidates.push(r);
  }

  /** relaxBestRemainingBytes: after each patience window, the next best remaining of the history becomes the target. */
  private relax(r: IterationRecord): void {
    this.history.push(r.remainingBytes);
    if (r.elapsedMs < this.relaxationDeadlineMs) return;
    this.history.sort((a, b) => a - b);
    const next = this.history.shift();
    if (next === undefined) return;
    this.bestRemainingBytes = next;
    this.relaxationPatienceMs = Math.trunc(this.relaxationPatienceMs * this.s.patienceWindowDecayFactor);
    this.relaxationDeadlineMs = r.elapsedMs + this.relaxationPatienceMs;
  }
}

interface MonitorState {
  readonly startNs: number;
  readonly sd: StallDetector;
  acceptableS: number;
  switchOverDeadlineS: number;
  initialDowntimeSet: boolean;
  syncsSeen: number;
  record: IterationRecord | undefined;
  lastPollNs: number;
  lastTransferred: number;
}

export function kubevirtVep248Controller(raw: Readonly<Record<string, unknown>>): Controller {
  const s = parseSettings(settingsSchema, raw);
  const allowDisruption = s.allowWorkloadDisruption ?? s.allowPostCopy;
  const monitors = new Monitors<MonitorState>(MONITOR_SLEEP_NS);
  const queue = new AdmissionQueue(s.parallelMigrationsPerCluster, s.parallelOutboundMigrationsPerNode, (m, fleet) => kubevirtMigrationOptions(s, fleet.vms[m.vm]!));

  const act = (fleet: FleetHandle, vm: number, ctl: MigrationControl, st: MonitorState, action: Action, reason: string, elapsedS: number): void => {
    st.sd.switchoverInitiated = action !== 'nothing';
    if (action === 'abort') {
      ctl.abort(`aborting migration: ${reason}`);
      fleet.note('abort', vm, `stall detector: ${reason}`);
      monitors.remove(vm);
    } else if (action === 'postcopy') {
      ctl.startPostcopy(reason);
      fleet.note('postcopy', vm, `stall detector: starting post copy mode: ${reason}`);
    } else if (action !== 'nothing') {
      const ms = action === 'hard-stop-and-copy' ? QEMU_MAX_MIGRATION_DOWNTIME_MS : s.maxDowntimeMs;
      ctl.setDowntimeLimit(ms * 1e6);
      st.switchOverDeadlineS = elapsedS + s.switchoverTimeout;
      fleet.note('downtime-limit', vm, `stall detector: max downtime ${ms} ms to switch over: ${reason}`);
    }
  };

  return {
    name: 'kubevirt-vep248',
    get nextPollNs() {
      return monitors.nextPollNs;
    },
    request(m: PlannedMigration, fleet: FleetHandle) {
      queue.request(m, fleet);
    },
    started(m: PlannedMigration, fleet: FleetHandle) {
      const now = fleet.nowNs;
      const dataGb = Math.ceil(fleet.vms[m.vm]!.memBytes / 1e9);
      const budgetS = s.completionTimeoutPerGiB * dataGb;
      fleet.budget(
        m.vm,
        { ...(budgetS > 0 ? { completionNs: budgetS * 1e9 } : {}), reads: `dataRemaining every ${MONITOR_SLEEP_NS / 1e6} ms, and the last iteration's remaining bytes (migration-iteration)` },
        `completionTimeoutPerGiB ${s.completionTimeoutPerGiB} s x ${dataGb} GB (RAM, rounded up) = ${budgetS} s to switch over (acting up to ${s.completionTimeoutFactor}x that); stall window stallProgressTimeout ${s.stallProgressTimeout} s`,
      );
      monitors.add(m.vm, now, {
        startNs: now,
        sd: new StallDetector(s),
        acceptableS: budgetS,
        switchOverDeadlineS: budgetS,
        initialDowntimeSet: false,
        syncsSeen: 0,
        record: undefined,
        lastPollNs: now,
        lastTransferred: 0,
      });
    },
    poll(fleet: FleetHandle) {
      const now = fleet.nowNs;
      for (const [vm, st] of monitors.due(now)) {
        const ctl = fleet.control(vm);
        const f = ctl.figures();
        if (f.status !== 'active' && f.status !== 'postcopy-active') continue;
        if (!st.initialDowntimeSet) {
          const ms = Math.min(s.maxDowntimeMs, QEMU_DEFAULT_TARGET_DOWNTIME_MS);
          ctl.setDowntimeLimit(ms * 1e6);
          st.initialDowntimeSet = true;
        }
        const elapsedS = Math.floor((now - st.startNs) / 1e9);
        if (f.status === 'active') {
          if (f.dirtySyncCount > st.syncsSeen && f.lastSyncAtNs >= 0) {
            st.syncsSeen = f.dirtySyncCount;
            st.record = { elapsedMs: Math.trunc((f.lastSyncAtNs - st.startNs) / 1e6), remainingBytes: f.lastSyncRemainingBytes };
            if (st.sd.iteration(st.record)) {
              const [action, reason] = st.sd.decide(st.record, st.sd.estimateDowntimeMs(st.record), elapsedS, st.acceptableS, allowDisruption);
              act(fleet, vm, ctl, st, action, reason, elapsedS);
              if (action === 'abort') continue;
            }
          } else if (now > st.lastPollNs) {
            st.sd.updateBandwidth(((f.transferredBytes - st.lastTransferred) * 1e9) / (now - st.lastPollNs));
          }
        }
        st.lastPollNs = now;
        st.lastTransferred = f.transferredBytes;
        // processCompletionTimeouts.
        if (st.acceptableS === 0 || elapsedS <= st.switchOverDeadlineS || f.status === 'postcopy-active') continue;
        if (st.sd.ewmaBandwidthBps === 0) {
          ctl.abort('aborting migration due to illegal state: value of ewmaBandwidthBps not set');
          fleet.note('abort', vm, 'no bandwidth measured by the deadline');
          monitors.remove(vm);
          continue;
        }
        if (!st.sd.switchoverInitiated) {
          const completable = st.sd.canFinishByDeadline(elapsedS, Math.trunc(st.acceptableS * s.completionTimeoutFactor), st.sd.estimateDowntimeMs(st.record));
          if (s.allowPostCopy && completable) {
            ctl.startPostcopy('completion timeout');
            st.sd.switchoverInitiated = true;
            fleet.note('postcopy', vm, 'completion timeout reached: starting post-copy mode to force convergence');
            continue;
          }
          if (allowDisruption && completable) {
            ctl.setDowntimeLimit(QEMU_MAX_MIGRATION_DOWNTIME_MS * 1e6);
            st.acceptableS = Math.trunc(st.acceptableS * s.completionTimeoutFactor);
            st.switchOverDeadlineS = elapsedS + s.switchoverTimeout;
            st.sd.switchoverInitiated = true;
            fleet.note('downtime-limit', vm, `completion timeout reached: max downtime ${QEMU_MAX_MIGRATION_DOWNTIME_MS} ms to force switchover`);
            continue;
          }
        }
        const reason = `aborting migration due to completion timeout: elapsedSec=${elapsedS} acceptableCompletionSec=${st.acceptableS}`;
        ctl.abort(reason);
        fleet.note('abort', vm, reason);
        monitors.remove(vm);
      }
    },
    ended(m: PlannedMigration, fleet: FleetHandle) {
      monitors.remove(m.vm);
      queue.admit(fleet);
    },
  };
}
