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
 * unless so few are left that the other threads would run out of runs
 * while this one generates (openBelow), then the next group's guest (while
 * fewer than `jobs + 1` guests are held). One thread alone thus holds one
 * guest at a time.
 *
 * Guests go to the thread that asks as the generator (the main thread): a
 * worker that never generates never loads and compiles the generator (the
 * guest kernel, the workload), which a thread pays for on its first guest
 * (a thread's first apache guest took 2.5-3x as long as its later ones).
 * The generator opens the next group
 * early enough that the workers have runs to take while it generates; a
 * worker generates only when it has nothing else to do and the generator
 * alone cannot keep the workers in runs (generatorKeepsUp).
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
  async take(spare: boolean, generator = true): Promise<Job | undefined> {
    for (;;) {
      if (spare && this.runsLeft <= this.jobs) return undefined;
      const handable = this.open.reduce((n, g) => n + (g.ready ? g.runs.length - g.next : 0), 0);
      const next = this.groups[this.opened];
      // A group of one run has no guest job (its run generates its own): any thread opens it.
      // A worker's spare slot never generates: its guest would wait behind the worker's job in hand.
      const mayGenerate = generator || (!spare && handable === 0 && next !== undefined && !this.generatorKeepsUp(next));
      const canOpen = next !== undefined && (next.runs.length === 1 || (mayGenerate && this.held < this.jobs + 1));
      if (canOpen && handable < this.openBelow(next)) {
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

  /**
   * Whether the generator alone keeps the workers in runs with groups like
   * `group`: its runs take the workers at least as long as generating its
   * guest takes the generator (by the runs' estimates: an apache group of
   * 8 runs against a guest of 4 runs' cost, on two threads). When it does
   * not (a few runs per guest, many workers), an idle worker generates too.
   */
  private generatorKeepsUp(group: Group): boolean {
    const r = group.runs;
    return r.reduce((c, x) => c + x.cost, 0) >= r[0]!.guestCost * (this.jobs - 1);
  }

  /**
   * Runs that must be left to hand out for the generator to take a run
   * rather than open `group`: one per thread, and, for a group with a
   * guest to generate, enough for the other threads to go on with while it
   * generates (its cost in runs of the group, from the runs' estimates).
   */
  private openBelow(group: Group): number {
    if (group.runs.length === 1 || this.jobs === 1) return this.jobs;
    const r = group.runs;
    const runCost = r.reduce((c, x) => c + x.cost, 0) / r.length;
    return this.jobs + (runCost > 0 ? (this.jobs - 1) * Math.ceil(r[0]!.guestCost / runCost) : 0);
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
