import { NO_VCPU } from '../events/guest-event-kind.js';
import type { RunBatchBuilder } from '../events/run-batch-builder.js';
import { RunEventKind } from '../events/run-event-kind.js';
import type { Driver } from './driver.js';
import type { PageOracle } from './page-oracle.js';
import type { Tracker } from './tracker.js';

export interface RoundRecord {
  readonly round: number;
  readonly startNs: number;
  readonly endNs: number;
  /** Pages the CLEAN that ended this round reported dirty. */
  readonly dirtyPages: number;
}

/**
 * Log-dirty rounds at a fixed interval, with no migration: enable at
 * `startNs`, CLEAN every `roundNs`, FINAL and OFF when the guest stops.
 * An ideal copier stands in for the destination so that the oracle can tell
 * whether the tracker lost a write: everything is copied at enable, and
 * every page a CLEAN or FINAL reports is copied at that instant.
 */
export class RoundDriver implements Driver {
  nextActionNs: number;
  readonly rounds: RoundRecord[] = [];
  private started = false;
  private roundStartNs = 0;

  constructor(
    private readonly tracker: Tracker,
    private readonly oracle: PageOracle,
    private readonly run: RunBatchBuilder,
    readonly roundNs: number,
    readonly startNs: number,
    tracking: boolean,
  ) {
    this.nextActionNs = tracking ? startNs : Infinity;
  }

  act(): void {
    const now = this.nextActionNs;
    const pausedBefore = this.tracker.domainPausedNs;
    if (!this.started) {
      this.started = true;
      this.tracker.enable(now);
      this.oracle.sendAll();
    } else {
      this.endRound(now, this.tracker.clean(now));
    }
    this.roundStartNs = now;
    this.run.emit(RunEventKind.roundStart, now, NO_VCPU, this.rounds.length, 0, 0);
    // A round never ends before its own CLEAN's pause is over: otherwise a
    // round shorter than the pause would leave the guest no time to run.
    const pauseNs = this.tracker.domainPausedNs - pausedBefore;
    this.nextActionNs = now + Math.max(this.roundNs, pauseNs + 1);
  }

  finish(wallNs: number): void {
    if (!this.started) return;
    const end = Math.max(wallNs, this.roundStartNs);
    this.endRound(end, this.tracker.final(end));
    this.tracker.off(end);
    this.nextActionNs = Infinity;
  }

  private endRound(now: number, bits: Uint32Array): void {
    const dirtyPages = this.oracle.sendBitmap(bits);
    const round = this.rounds.length;
    this.rounds.push({ round, startNs: this.roundStartNs, endNs: now, dirtyPages });
    this.run.emit(RunEventKind.roundEnd, now, NO_VCPU, round, dirtyPages, 0);
  }
}
