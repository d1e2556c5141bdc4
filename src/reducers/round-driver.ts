import { NO_VCPU } from '../events/guest-event-kind.js';
import type { RunBatchBuilder } from '../events/run-batch-builder.js';
import { RunEventKind } from '../events/run-event-kind.js';
import type { Driver, DriverFactory } from './driver.js';
import type { PageOracle } from './page-oracle.js';
import type { Tracker } from './tracker.js';
import type { RoundStability } from './run-final.js';
import type { VcpuClock } from './vcpu-clock.js';

/**
 * Log-dirty rounds at a fixed interval, with no migration: enable at
 * `startNs`, CLEAN every `roundNs`, FINAL and OFF when the guest stops.
 * An ideal copier stands in for the destination so that the oracle can tell
 * whether the tracker lost a write: everything is copied at enable, and
 * every page a CLEAN or FINAL reports is copied at that instant. At the end
 * the oracle checks every page (each stale page listed, up to 16, is a
 * divergence event).
 */
export class RoundDriver implements Driver {
  nextActionNs: number;
  /** Each round so far (the summary takes them from the run events; kept for whoever drives the simulation by hand). */
  readonly rounds: { readonly round: number; readonly startNs: number; readonly endNs: number; readonly dirtyPages: number }[] = [];
  private started = false;
  private roundStartNs = 0;
  private lost = { count: 0, first: [] as number[] };
  /** Each round's dirty set beside the previous round's: the working set's stability. */
  private readonly stability: RoundStability[] = [];
  private previous: Uint32Array | undefined;
  private previousDirty = 0;
  /**
   * The copier's two bitmap buffers, taken in turn by each CLEAN and FINAL
   * (one holds the round before, for the stability figures): allocated
   * once, as xg_sr_save.c's setup() allocates its dirty_bitmap, not a new
   * copy a round (tracker.ts's peek says why).
   */
  private readonly buffers: [Uint32Array, Uint32Array];

  constructor(
    private readonly tracker: Tracker,
    private readonly oracle: PageOracle,
    private readonly clock: VcpuClock,
    private readonly run: RunBatchBuilder,
    readonly roundNs: number,
    readonly startNs: number,
    private readonly tracking: boolean,
  ) {
    this.nextActionNs = tracking ? startNs : Infinity;
    const words = Math.ceil(oracle.memPages / 32);
    this.buffers = [new Uint32Array(words), new Uint32Array(words)];
  }

  /** The buffer the next CLEAN or FINAL copies into: the one not holding the previous round's bitmap. */
  private get nextBuffer(): Uint32Array {
    const [a, b] = this.buffers;
    return this.previous === a ? b : a;
  }

  /** The factory `simulate` takes: rounds of `roundNs` from `startNs` (no tracking under `direct`). */
  static factory(roundNs: number, startNs: number): DriverFactory {
    return (w) => new RoundDriver(w.tracker, w.oracle, w.clock, w.run, roundNs, startNs, w.tracker.name !== 'direct');
  }

  act(): void {
    const now = this.nextActionNs;
    const pausedBefore = this.tracker.domainPausedNs;
    if (!this.started) {
      this.started = true;
      this.tracker.enable(now);
      this.oracle.sendAll();
      // Initially set (KVM's manual protect): the copier took every page, so every chunk is cleared now.
      this.clearAll(now);
    } else {
      this.endRound(now, this.tracker.clean(now, this.nextBuffer));
      this.clearAll(now);
    }
    this.roundStartNs = now;
    this.run.emit(RunEventKind.roundStart, now, NO_VCPU, this.rounds.length, 0, 0);
    // A round never ends before its own CLEAN's pause is over: otherwise a
    // round shorter than the pause would leave the guest no time to run.
    const pauseNs = this.tracker.domainPausedNs - pausedBefore;
    this.nextActionNs = now + Math.max(this.roundNs, pauseNs + 1);
  }

  finish(wallNs: number): void {
    if (this.started) {
      const end = Math.max(wallNs, this.roundStartNs);
      this.endRound(end, this.tracker.final(end, this.nextBuffer));
      this.tracker.off(end);
      this.nextActionNs = Infinity;
    }
    if (!this.tracking) return;
    this.lost = this.oracle.divergent();
    for (const pfn of this.lost.first) this.run.emit(RunEventKind.divergence, this.clock.nowNs, NO_VCPU, pfn, 0, 0);
  }

  verdict(): { lostPages: number; firstLostPfns: readonly number[] } {
    return { lostPages: this.lost.count, firstLostPfns: this.lost.first };
  }

  roundStability(): readonly RoundStability[] {
    return this.stability;
  }

  /**
   * KVM with manual protect: GET re-protects nothing, so each round clears
   * every chunk right after its GET (and after enable, whose bitmap starts
   * all set), the ideal copier having taken the pages already.
   */
  private clearAll(now: number): void {
    const shift = this.tracker.clearChunkShift;
    if (shift === undefined) return;
    const chunk = 2 ** shift;
    for (let first = 0; first < this.oracle.memPages; first += chunk) this.tracker.clearChunk(first, now);
  }

  private endRound(now: number, bits: Uint32Array): void {
    const prev = this.previous;
    const { sent: dirtyPages, shared } = this.oracle.sendBitmap(bits, prev);
    this.stability.push(prev ? { shared, union: this.previousDirty + dirtyPages - shared } : { shared: -1, union: -1 });
    this.previous = bits;
    this.previousDirty = dirtyPages;
    const round = this.rounds.length;
    this.rounds.push({ round, startNs: this.roundStartNs, endNs: now, dirtyPages });
    this.run.emit(RunEventKind.roundEnd, now, NO_VCPU, round, dirtyPages, 0);
  }
}

