import { NO_VCPU } from '../events/guest-event-kind.js';
import { RunEventKind } from '../events/run-event-kind.js';
import type { Driver, DriverFactory, DriverWorld } from '../reducers/driver.js';
import { makeMigration } from '../reducers/migration/make-migration.js';
import type { MigrationReport } from '../reducers/migration/migration-ledger.js';
import type { MigrationOptions } from '../reducers/migration/migration-options.js';
import type { MigrationPolicy } from '../reducers/migration/migration-policy.js';
import { QemuMigration } from '../reducers/migration/migration-qemu.js';
import { type MigrationFigures, MigrationFiguresKeeper } from './migration-figures.js';
import { SharedLink, type ShareListener, type Stream, type StreamNetwork } from './shared-network.js';
import { emptyInputLog, type OwnNetworkCall, type VmEnd, type VmInputLog } from './vm-inputs.js';

/** How a migration in a fleet ended, beyond its policy's own account. */
export type FleetOutcome = 'completed' | 'postcopy' | 'paused' | 'aborted' | 'incomplete' | 'not-started';

/** What a controller may ask of a migration (libvirt's calls on the domain's migration job). */
export interface MigrationControl {
  /** virDomainAbortJob: the migration thread cancels at its next step; the guest stays on the source. */
  abort(reason: string): void;
  /** virDomainMigrateStartPostCopy (QEMU's policy only). */
  startPostcopy(reason: string): void;
  /** virDomainSuspend at `atNs`: the guest stops, dirties nothing, and the migration completes with it paused. */
  pause(reason: string, atNs: number): void;
  /** virDomainMigrateSetMaxDowntime (migrate-set-parameters downtime-limit). */
  setDowntimeLimit(ns: number): void;
  /** virDomainMigrateSetMaxSpeed (migrate-set-parameters max-bandwidth). */
  setMaxBandwidth(bytesPerSec: number): void;
  figures(): MigrationFigures;
}

/** Told when a migration ends (completed, aborted, or stopped at the horizon). */
export type EndListener = (vm: number, atNs: number) => void;

/**
 * One VM's toolstack in a fleet: the Driver its Simulation hands control to.
 * Until the orchestrator starts its migration it has nothing to do; then it
 * builds the VM's own policy (make-migration.ts) over a context whose link
 * is the VM's stream on the shared network and whose log-dirty handle,
 * oracle and run emitter are watched for the query-migrate figures
 * (migration-figures.ts). A controller's requests are applied at the
 * policy's next step, as the migration thread notices a cancel or a
 * post-copy request at its next iteration.
 *
 * Everything that reaches it from outside (the controller's calls, its
 * stream's share) goes into its input log (vm-inputs.ts) with the number
 * of steps it had taken, so its run can be replayed alone: `apply` feeds a
 * recorded input back in, and a replay's network (replayed-shares.ts)
 * hands its own network calls their recorded shares.
 */
export class VmMigration implements Driver, MigrationControl, ShareListener {
  private world: DriverWorld | undefined;
  private policy: MigrationPolicy | undefined;
  private opts: { -readonly [K in keyof MigrationOptions]: MigrationOptions[K] } | undefined;
  private stream: Stream | undefined;
  private link: SharedLink | undefined;
  /** The transfer in flight whose end is the policy's next action (see rateChanged), or undefined. */
  private transfer: { startNs: number; bytes: number; requestedBytesPerSec: number; bytesPerSec: number; endNs: number } | undefined;
  private keeper: MigrationFiguresKeeper | undefined;
  private abortReason: string | undefined;
  private postcopyReason: string | undefined;
  private ended = false;
  /** A pause asked for and not yet applied: the guest must first run up to it. */
  private pauseDueNs = Infinity;
  /** The policy completed within its last step at a later wall time (stop-and-copy ends at resume): the stream holds its share until then. */
  private endDueNs = -1;
  private suspended = false;
  outcome: FleetOutcome = 'not-started';
  reason = '';
  startedAtNs = -1;
  endedAtNs = -1;
  pausedAtNs = -1;
  postcopyAtNs = -1;
  /** The remaining bytes each read of the figures gave the controller: [fleet wall ns, bytes]. */
  readonly readings: [number, number][] = [];
  /** Its driver's actions so far, and what came from outside between them. */
  readonly log: VmInputLog = emptyInputLog();

  constructor(
    readonly vm: number,
    private readonly network: StreamNetwork,
    private readonly onEnd: EndListener,
    /** The fleet's wall time, for the log (a controller's call carries none). */
    private readonly fleetNowNs: () => number,
  ) {}

  readonly factory: DriverFactory = (world) => {
    this.world = world;
    return this;
  };

  get nextActionNs(): number {
    if (this.ended || !this.policy) return Infinity;
    if (this.endDueNs >= 0) return this.endDueNs;
    return Math.min(this.idle ? this.wakeNs : this.policy.nextActionNs, this.pauseDueNs);
  }

  get started(): boolean {
    return this.policy !== undefined;
  }

  get live(): boolean {
    return this.policy !== undefined && !this.ended;
  }

  /** The orchestrator starts the migration at `atNs`, from host `from` to `to`. */
  start(atNs: number, from: number, to: number, opts: MigrationOptions): void {
    this.log.inputs.push({ op: 'start', step: this.log.steps, atNs, from, to, options: opts });
    const w = this.world!;
    this.opts = { ...opts, startNs: atNs, afterEnd: 'stop' };
    const keeper = new MigrationFiguresKeeper(w.guest.memPages, 4096 + w.costs.pageHeaderBytes);
    keeper.status = 'active';
    keeper.startedAtNs = atNs;
    keeper.updatedAtNs = atNs;
    this.keeper = keeper;
    // No cap on the stream: QEMU's max-bandwidth is its own 100 ms budget
    // (migration-qemu.ts send), which the policy keeps as in a run; the
    // network sees the bursts and the waits (see act).
    this.stream = this.network.open(this.vm, from, to, Infinity, atNs, this);
    this.startedAtNs = atNs;
    this.policy = makeMigration(
      {
        guest: w.guest,
        seed: w.seed,
        costs: w.costs,
        link: (this.link = new SharedLink(this.stream, opts.bandwidthBytesPerSec)),
        logDirty: keeper.logDirty(w.tracker),
        clock: w.clock,
        run: keeper.emitter(w.run, () => this.onSuspend()),
        oracle: keeper.oracle(w.oracle),
        mmu: w.mmu,
        host: w.host,
      },
      this.opts,
      w.run,
    );
  }

  act(): void {
    this.log.steps++;
    const policy = this.policy!;
    if (this.endDueNs >= 0) {
      this.end(this.endDueNs, this.completedOutcome());
      return;
    }
    if (this.idle && this.wakeNs < this.pauseDueNs) {
      // A step of its own, a nanosecond before the policy's: every stream
      // that sends again at that instant holds its share before any of them
      // times a transfer, whatever the VMs' order in the file.
      this.setIdle(false, this.wakeNs);
      return;
    }
    if (this.pauseDueNs <= policy.nextActionNs) {
      // virDomainSuspend takes effect at once, at the controller's call: the
      // guest has run up to it, and stops there.
      const at = this.pauseDueNs;
      this.pauseDueNs = Infinity;
      this.pausedAtNs = at;
      if (!this.suspended) this.world!.clock.pauseAll(at, Math.max(0, policy.nextActionNs - at));
      return;
    }
    const now = policy.nextActionNs;
    if (this.abortReason !== undefined && !this.suspended && !(policy instanceof QemuMigration && policy.inPostcopy)) {
      this.cancel(now);
      return;
    }
    if (this.postcopyReason !== undefined && policy instanceof QemuMigration && this.postcopyAtNs < 0) {
      policy.startPostcopy();
      this.postcopyAtNs = now;
    }
    const link = this.link!;
    link.calls = 0;
    policy.act();
    this.transfer = undefined;
    // One transfer timed in this step, ending where the policy's next step
    // is due (a batch of pages sent, then the migration thread's next
    // iteration): the wire is all that step waits for.
    if (link.calls === 1 && policy.nextActionNs !== Infinity && policy.nextActionNs - link.lastNs >= now) {
      this.transfer = { startNs: policy.nextActionNs - link.lastNs, bytes: link.lastBytes, requestedBytesPerSec: link.lastRequestedBytesPerSec, bytesPerSec: link.lastBytesPerSec, endNs: policy.nextActionNs };
    }
    const keeper = this.keeper!;
    keeper.updatedAtNs = now;
    if (policy.nextActionNs === Infinity) {
      const r = policy.report();
      if (r.outcome === 'completed' && r.completedAtNs > now) this.endDueNs = r.completedAtNs;
      else this.end(now, r.outcome === 'completed' ? this.completedOutcome() : 'incomplete');
      return;
    }
    // Nothing went on the wire in this step and the next is later (QEMU
    // waiting out its rate limit's window, a bitmap sync, the toolstack's
    // walk): the stream sends nothing until then, and TCP leaves the link
    // to the other streams meanwhile.
    if (link.calls === 0 && policy.nextActionNs - now >= 2 && !this.idle) this.setIdle(true, now);
    // A paused guest runs no more: its vCPUs stall until the migration's next step, and so on to its end.
    if (this.pausedAtNs >= 0 && !this.suspended) this.world!.clock.pauseAll(now, policy.nextActionNs - now);
  }

  /** The stream holds no share (cap 0): the policy's last step put nothing on the wire and its next is later. */
  private get idle(): boolean {
    return this.stream !== undefined && this.stream.capBytesPerSec === 0;
  }

  /** When an idle stream takes its share again: a nanosecond before the policy's next step. */
  private get wakeNs(): number {
    return this.policy!.nextActionNs - 1;
  }

  /** The stream stops holding a share (cap 0) while it has nothing on the wire, and takes one again before the policy's next step. */
  private setIdle(idle: boolean, atNs: number): void {
    this.network.setCap(this.stream!, idle ? 0 : Infinity, atNs);
  }

  finish(wallNs: number): void {
    if (this.policy && !this.ended) {
      this.policy.finish(wallNs);
      this.end(wallNs, 'incomplete');
      this.reason = 'the scenario ended (its horizon, or the guest\'s events) before the migration completed';
    }
  }

  /** The policy's account (only a started migration's simulation is finished). */
  report(): MigrationReport {
    const r = this.policy!.report();
    return this.outcome === 'aborted' ? { ...r, stopReason: this.reason } : r;
  }

  abort(reason: string): void {
    this.log.inputs.push({ op: 'abort', step: this.log.steps, atNs: this.fleetNowNs(), reason });
    if (this.live && this.abortReason === undefined) this.abortReason = reason;
  }

  startPostcopy(reason: string): void {
    this.log.inputs.push({ op: 'postcopy', step: this.log.steps, atNs: this.fleetNowNs(), reason });
    if (this.live && this.postcopyReason === undefined && this.opts?.policy === 'qemu') this.postcopyReason = reason;
  }

  pause(reason: string, atNs: number): void {
    this.log.inputs.push({ op: 'pause', step: this.log.steps, atNs: this.fleetNowNs(), pauseAtNs: atNs, reason });
    if (!this.live || this.pausedAtNs >= 0 || this.pauseDueNs !== Infinity || this.suspended) return;
    this.pauseDueNs = atNs;
    this.reason = reason;
  }

  setDowntimeLimit(ns: number): void {
    this.log.inputs.push({ op: 'downtime-limit', step: this.log.steps, atNs: this.fleetNowNs(), ns });
    if (this.opts) this.opts.downtimeLimitNs = ns;
  }

  setMaxBandwidth(bytesPerSec: number): void {
    this.log.inputs.push({ op: 'max-bandwidth', step: this.log.steps, atNs: this.fleetNowNs(), bytesPerSec });
    // migrate_params_apply -> migration_rate_set: the budget of the
    // window under way and the next follows the new value (the policy reads
    // it at its next send); a chunk already written goes on at link speed.
    if (this.opts) this.opts.maxBandwidthBytesPerSec = bytesPerSec;
  }

  /** ShareListener: the share its own network call gave its stream. */
  own(call: OwnNetworkCall): void {
    this.log.own.push(call);
  }

  /** ShareListener: another stream's call changed this stream's share, from `atNs` on. */
  share(seq: number, atNs: number, bytesPerSec: number): void {
    this.log.inputs.push({ op: 'share', step: this.log.steps, atNs, seq, bytesPerSec });
    this.rateChanged(atNs);
  }

  /**
   * The stream's rate changed at `atNs` while a transfer is on the wire:
   * what it had sent by then at the old rate stays sent, the rest goes at
   * the new one, and the policy's next step (the transfer's end) moves to
   * where the last byte now arrives, as a TCP stream's rate follows its
   * share at once. Any other step the policy has due is left alone.
   */
  private rateChanged(atNs: number): void {
    const tr = this.transfer;
    const policy = this.policy;
    if (!tr || !policy || this.ended || this.endDueNs >= 0 || policy.nextActionNs !== tr.endNs || atNs >= tr.endNs) return;
    const bytesPerSec = Math.min(tr.requestedBytesPerSec, this.stream!.rateBytesPerSec);
    if (bytesPerSec === tr.bytesPerSec) return;
    const fromNs = Math.max(atNs, tr.startNs);
    const left = Math.max(0, tr.bytes - ((fromNs - tr.startNs) * tr.bytesPerSec) / 1e9);
    const endNs = fromNs + Math.ceil((left * 1e9) / bytesPerSec);
    policy.nextActionNs = endNs;
    this.transfer = { startNs: fromNs, bytes: left, requestedBytesPerSec: tr.requestedBytesPerSec, bytesPerSec, endNs };
  }

  /** A replay: the recorded share of this VM's stream, as another stream's call gave it. */
  replayShare(seq: number, atNs: number, bytesPerSec: number): void {
    this.stream!.rateBytesPerSec = bytesPerSec;
    this.share(seq, atNs, bytesPerSec);
  }

  /** How the migration ended, as fleet.json reports it. */
  ending(): VmEnd {
    return { outcome: this.outcome, reason: this.reason, startedAtNs: this.startedAtNs, endedAtNs: this.endedAtNs, pausedAtNs: this.pausedAtNs, postcopyAtNs: this.postcopyAtNs };
  }

  figures(): MigrationFigures {
    if (this.keeper && !this.ended) {
      const f = this.keeper.figures();
      const atNs = this.fleetNowNs();
      const last = this.readings[this.readings.length - 1];
      if (!last || last[0] !== atNs) {
        this.log.inputs.push({ op: 'read', step: this.log.steps, atNs });
        this.readings.push([atNs, f.remainingBytes]);
      }
      return f;
    }
    return this.keeper?.figures() ?? {
      status: 'queued',
      startedAtNs: -1,
      updatedAtNs: 0,
      remainingBytes: 0,
      transferredBytes: 0,
      dirtySyncCount: 0,
      memTotalBytes: (this.world?.guest.memPages ?? 0) * 4096,
      lastSyncAtNs: -1,
      lastSyncRemainingBytes: 0,
    };
  }

  /** Stop-and-copy (or the post-copy switch) has begun: the guest is paused at the source. */
  private onSuspend(): void {
    this.suspended = true;
  }

  private completedOutcome(): FleetOutcome {
    if (this.postcopyAtNs >= 0) return 'postcopy';
    if (this.pausedAtNs >= 0) return 'paused';
    return 'completed';
  }

  /**
   * QEMU's migration_cancel: the migration stops, log-dirty goes off
   * (ram_save_cleanup, memory_global_dirty_log_stop), the throttle stops,
   * and the guest runs on at the source.
   */
  private cancel(now: number): void {
    const w = this.world!;
    const policy = this.policy!;
    policy.finish(now);
    // The round under way ends with the cancel: its round_end is the phase
    // event the live phase's end sits at (the summary fold places it there).
    w.run.emit(RunEventKind.roundEnd, now, NO_VCPU, policy.report().rounds.length, 0, 0);
    w.tracker.off(now);
    w.clock.setThrottle(0, now);
    this.reason = this.abortReason!;
    this.keeper!.status = 'cancelled';
    this.end(now, 'aborted');
  }

  private end(atNs: number, outcome: FleetOutcome): void {
    if (this.ended) return;
    this.ended = true;
    this.outcome = outcome;
    this.endedAtNs = atNs;
    const keeper = this.keeper!;
    keeper.updatedAtNs = atNs;
    if (outcome !== 'aborted') keeper.status = outcome === 'incomplete' ? 'incomplete' : 'completed';
    if (outcome !== 'incomplete' && outcome !== 'aborted') this.reason = this.policy!.report().stopReason;
    this.network.close(this.stream!, atNs);
    this.onEnd(this.vm, atNs);
  }
}
