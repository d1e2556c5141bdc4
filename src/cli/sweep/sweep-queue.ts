import { columnsOf, type GuestColumns, type SharedGuest } from './shared-guest.js';
import type { SweepRun } from './sweep-runs.js';

/** Runs that share a guest, and the guest once generated. */
export interface Group {
  readonly runs: readonly SweepRun[];
  /** Runs handed out. */
  next: number;
  /** Runs not finished. */
  left: number;
  guest: SharedGuest | undefined;
  /** Generated (or given up on): its runs may be handed out. */
  ready: boolean;
}

export type Job = { readonly kind: 'guest'; readonly group: Group; readonly reuse: GuestColumns | undefined } | { readonly kind: 'run'; readonly group: Group; readonly run: SweepRun };

/**
 * Hands out a sweep's jobs (a group's guest to generate, a run to run) to
 * the threads as they ask, in group order: a run of an open group first,
 * unless fewer are left than threads (a thread would soon have nothing to
 * do), then the next group's guest (while fewer than `jobs + 1` guests
 * are held). One thread alone thus holds one guest at a time.
 */
export class SweepQueue {
  private readonly groups: Group[];
  private opened = 0;
  /** Groups whose guest is held or being generated. */
  private held = 0;
  /** Open groups with runs not yet handed out. */
  private readonly open: Group[] = [];
  private readonly free: GuestColumns[] = [];
  private waiting: (() => void)[] = [];
  private runsLeft: number;

  /** Guests held or being generated (at most jobs + 1). */
  get heldGuests(): number {
    return this.held;
  }

  constructor(
    groups: readonly (readonly SweepRun[])[],
    private readonly jobs: number,
  ) {
    this.groups = groups.map((runs) => ({ runs, next: 0, left: runs.length, guest: undefined, ready: runs.length === 1 }));
    this.runsLeft = groups.reduce((n, g) => n + g.length, 0);
  }

  /**
   * The next job, waiting while every group left is being generated
   * elsewhere; undefined when there is none. A spare asker (a worker's
   * second slot) gets none once fewer runs are left than threads: the
   * sweep's last runs go to threads that are free, not behind a run.
   */
  async take(spare: boolean): Promise<Job | undefined> {
    for (;;) {
      if (spare && this.runsLeft <= this.jobs) return undefined;
      const handable = this.open.reduce((n, g) => n + (g.ready ? g.runs.length - g.next : 0), 0);
      const canOpen = this.opened < this.groups.length && (this.held < this.jobs + 1 || this.groups[this.opened]!.runs.length === 1);
      if (canOpen && handable < this.jobs) {
        const group = this.groups[this.opened++]!;
        this.open.push(group);
        if (group.runs.length === 1) continue;
        this.held++;
        return { kind: 'guest', group, reuse: this.free.pop() };
      }
      const group = this.open.find((g) => g.ready && g.next < g.runs.length);
      if (group) {
        const run = group.runs[group.next++]!;
        if (group.next === group.runs.length) this.open.splice(this.open.indexOf(group), 1);
        this.runsLeft--;
        return { kind: 'run', group, run };
      }
      if (this.opened === this.groups.length && this.open.length === 0) return undefined;
      await new Promise<void>((resolve) => this.waiting.push(resolve));
    }
  }

  /** A group's guest is generated (undefined: each run generates its own). */
  guestReady(group: Group, guest: SharedGuest | undefined, reuse: GuestColumns | undefined): void {
    group.guest = guest;
    group.ready = true;
    if (!guest && reuse) this.free.push(reuse);
    this.wake();
  }

  runDone(group: Group): void {
    if (--group.left > 0 || group.runs.length === 1) return;
    if (group.guest) this.free.push(columnsOf(group.guest));
    group.guest = undefined;
    this.held--;
    this.wake();
  }

  private wake(): void {
    const w = this.waiting;
    this.waiting = [];
    for (const resolve of w) resolve();
  }
}
