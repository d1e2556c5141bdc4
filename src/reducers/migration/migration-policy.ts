import type { Driver } from '../driver.js';
import type { MigrationContext } from './migration-context.js';
import { type CountingEmitter, MigrationLedger, type MigrationReport, type ZeroPageRule } from './migration-ledger.js';
import type { MigrationOptions } from './migration-options.js';
import type { PostcopyPhase } from './postcopy-phase.js';
import { PageContents, WRITTEN_PAGES_OPAQUE } from './page-contents.js';

/**
 * A bound on the steps an idle guest's migration may take after its events
 * end: every policy here completes with a guest that writes nothing (Xen's
 * pass limits, QEMU's threshold once nothing is dirty), in far fewer.
 */
const MAX_IDLE_STEPS = 10_000_000;

/**
 * What every migration policy is to the simulation: a Driver (it acts at
 * wall times of its own choosing while the guest runs) that keeps its books
 * in a MigrationLedger and reports them at the end. A policy sees only its
 * options and a MigrationContext, so the same policy can migrate one guest
 * alone or one of many (DESIGN section 12).
 *
 * A policy is a chain of steps: each step does what is due at
 * `nextActionNs` and schedules the next (the migration thread's loop in
 * QEMU, the save loop in libxc, unrolled over simulated time).
 */
export abstract class MigrationPolicy implements Driver {
  nextActionNs: number;
  protected readonly ledger: MigrationLedger;
  /** Whether the migration has begun (it begins at `opts.startNs`). */
  protected begun = false;
  private step: () => void;
  /** The background push of a post-copy phase (QEMU's postcopy_start), while pages are still missing on the destination. */
  private postcopy: PostcopyPhase | undefined;

  constructor(
    protected readonly ctx: MigrationContext,
    protected readonly opts: MigrationOptions,
    events: CountingEmitter,
  ) {
    this.ledger = new MigrationLedger(ctx, events, this.zeroPageRule(), new PageContents(opts.pageContents ?? WRITTEN_PAGES_OPAQUE, ctx.seed));
    this.nextActionNs = opts.startNs;
    this.step = () => {
      this.begun = true;
      this.ledger.begin();
      this.begin(this.nextActionNs);
    };
  }

  act(): void {
    this.step();
  }

  /**
   * The guest has no more events. Under `afterEnd: 'idle'` it goes on
   * running idle (its vCPUs lose nothing to pauses, it dirties nothing) and
   * the migration runs on to its end, as a real one would; under `stop`, or
   * `loop` once its replays are over, or if it still has not completed (a
   * policy that would wait for ever), it is left incomplete.
   */
  finish(wallNs: number): void {
    if (this.postcopy) {
      // The push needs no guest events: it runs to its end.
      while (this.nextActionNs !== Infinity) this.act();
      return;
    }
    this.noteLoopedPast(wallNs);
    if (this.opts.afterEnd === 'idle' && !this.completed()) {
      const clock = this.ctx.clock;
      const eventsEndNs = wallNs;
      clock.idleAll();
      for (let steps = 0; this.nextActionNs !== Infinity && !this.completed() && steps < MAX_IDLE_STEPS; steps++) {
        clock.advanceTo(this.nextActionNs);
        this.act();
      }
      wallNs = Math.max(wallNs, clock.nowNs);
      this.ledger.afterEndNs = wallNs - eventsEndNs;
    }
    this.leaveIncomplete(wallNs);
  }

  /**
   * `loop`: the replayed events ran the migration on past the capture, to
   * its completion or to the end of the run (afterEndNs). Nothing under
   * `idle` or `stop`, or when the migration completed within the events.
   */
  protected noteLoopedPast(wallNs: number): void {
    if (this.eventsEndNs < 0) return;
    const endNs = this.completed() ? this.ledger.completedAtNs : wallNs;
    this.ledger.afterEndNs = Math.max(0, endNs - this.eventsEndNs);
  }

  /** A migration still live when the run ends is incomplete (QEMU would go on for ever with a guest that never converges). */
  protected leaveIncomplete(wallNs: number): void {
    if (this.ledger.outcome !== 'completed') {
      this.ledger.endLive(wallNs);
      this.ledger.stopReason = this.begun ? 'the workload ended before the migration completed' : 'the workload ended before the migration started';
      this.ledger.completedAtNs = wallNs;
      // What the destination still lacks: pages written since they were last sent, or never sent.
      this.ledger.remainingPages = this.ctx.oracle.divergent(0).count;
    }
    this.nextActionNs = Infinity;
  }

  private completed(): boolean {
    return this.ledger.outcome === 'completed';
  }

  isComplete(): boolean {
    return this.completed();
  }

  /** Wall time the guest's own events ended at, when they are replayed after it (-1: not replayed). */
  private eventsEndNs = -1;

  eventsEnded(wallNs: number): void {
    this.eventsEndNs = wallNs;
  }

  report(): MigrationReport {
    return this.ledger.report();
  }

  /** How this toolstack's stream carries a zero page: Xen's in full (the default), QEMU's as a flag. */
  protected zeroPageRule(): ZeroPageRule {
    return 'full';
  }

  /** What the policy does first, at the migration's start. */
  protected abstract begin(now: number): void;

  /**
   * Log-dirty ENABLE at the start of a live migration (Xen's
   * XEN_DOMCTL_SHADOW_OP_ENABLE_LOGDIRTY, QEMU's first bitmap sync at
   * ram_save_setup): the pause it costs is the setup time, and sending
   * starts once it is over. Returns that time.
   */
  protected enableLogDirty(now: number): number {
    const { clock } = this.ctx;
    const before = clock.domainPausedNs;
    this.ctx.logDirty.enable(now);
    // KVM enables logging on QEMU's thread while the vCPUs run (opThreadNs); Xen pauses the domain.
    this.ledger.setupNs = clock.domainPausedNs - before + this.ctx.logDirty.opThreadNs;
    return now + this.ledger.setupNs;
  }

  /** Whether the guest already runs on the destination, fetching missing pages. */
  get inPostcopy(): boolean {
    return this.postcopy !== undefined;
  }

  /** The guest resumes on the destination at `resumeAt`; from then the source pushes the missing pages in the background at link speed until none is left. */
  protected runPostcopy(phase: PostcopyPhase, resumeAt: number): void {
    this.postcopy = phase;
    this.schedule(resumeAt, () => this.pushPostcopy());
  }

  private pushPostcopy(): void {
    const next = this.postcopy!.push(this.nextActionNs);
    if (next === undefined) {
      this.postcopy = undefined;
      this.done();
      return;
    }
    this.schedule(next, () => this.pushPostcopy());
  }

  protected schedule(atNs: number, step: () => void): void {
    this.nextActionNs = atNs;
    this.step = step;
  }

  /** The migration is over: nothing more to do while the guest runs on. */
  protected done(): void {
    this.nextActionNs = Infinity;
  }
}
