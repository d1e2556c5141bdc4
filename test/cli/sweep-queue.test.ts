// The queue that hands a sweep's jobs to its threads (src/cli/sweep/sweep-queue.ts):
// threads that ask at random moments, finishing their jobs in random
// order, are handed every run exactly once, each after its group's guest
// is generated; guests go to the generator (the main thread), and to a
// worker only when the generator alone cannot keep the workers in runs; no
// more than jobs + 1 guests are held at once; one thread alone holds one
// guest at a time (and reuses its buffers); a worker's
// spare slot gets nothing once fewer runs are left than threads; and every
// thread is told when there is nothing left.
import { describe, expect, it } from 'vitest';
import type { SharedGuest } from '../../src/cli/sweep/shared-guest.js';
import { type Job, SweepQueue } from '../../src/cli/sweep/sweep-queue.js';
import type { SweepRun } from '../../src/cli/sweep/sweep-runs.js';
import { Xoshiro128 } from '../../src/random/xoshiro128.js';

/** Groups of the given sizes (a guest costs `guestCost` runs); a run's id names its group and place. */
function groups(sizes: readonly number[], guestCost = 1): SweepRun[][] {
  return sizes.map((n, g) => Array.from({ length: n }, (_, i) => ({ index: g * 100 + i, id: `g${g}r${i}`, argv: [], opts: {} as SweepRun['opts'], params: {}, guestKey: `g${g}`, cost: 1, guestCost })));
}

/** A guest whose buffers are tagged, so reuse can be followed. */
function fakeGuest(tag: number): SharedGuest {
  const b = new SharedArrayBuffer(tag + 1);
  return { header: {} as SharedGuest['header'], count: 0, batchCounts: [], batchBaseNs: [], batchEndNs: [], kind: b, dtNs: b, vcpu: b, page: b, arg: b, pte: b };
}

/**
 * Runs `threads` askers (the first `spare` of them spare slots, the last
 * the generator) over the queue: each asks, holds its job for a random
 * number of turns, finishes it, and asks again. Returns the order jobs
 * were handed out in, the most guests held at once, and the guests handed
 * to any asker but the generator.
 */
async function drive(sizes: readonly number[], jobs: number, threads: number, spare: number, seed: number, guestCost = 1) {
  const q = new SweepQueue(groups(sizes, guestCost), jobs);
  const rnd = new Xoshiro128(seed, 0x9e3779b9, 7, 11);
  const handed: Job[] = [];
  const generated = new Set<string>();
  let maxHeld = 0;
  let fresh = 0;
  let ended = 0;
  let misplaced = 0;
  const turn = () => new Promise<void>((resolve) => setImmediate(resolve));
  const asker = async (isSpare: boolean, generator: boolean) => {
    for (let job = await q.take(isSpare, generator); job; job = await q.take(isSpare, generator)) {
      handed.push(job);
      if (job.kind === 'guest' && !generator) misplaced++;
      maxHeld = Math.max(maxHeld, q.heldGuests);
      if (job.kind === 'run' && job.group.runs.length > 1) expect(generated.has(job.run.guestKey), `${job.run.id} handed before its guest`).toBe(true);
      for (let t = rnd.below(4); t > 0; t--) await turn();
      if (job.kind === 'guest') {
        generated.add(job.group.runs[0]!.guestKey);
        q.guestReady(job.group, job.reuse ? { ...fakeGuest(0), ...job.reuse } : fakeGuest(fresh++), job.reuse);
      } else q.runDone(job.group);
    }
    ended++;
  };
  await Promise.all(Array.from({ length: threads }, (_, i) => asker(i < spare, i === threads - 1)));
  expect(ended).toBe(threads);
  return { handed, maxHeld, fresh, misplaced };
}

describe('the sweep queue', () => {
  it('hands every run exactly once, after its guest, guests to the generator only, with at most jobs + 1 guests held, to threads finishing in random order', async () => {
    const sizes = [8, 1, 5, 8, 2, 1, 8];
    for (let seed = 1; seed <= 20; seed++) {
      // Two threads: a worker with two slots (the first spare), and this one, the generator.
      const { handed, maxHeld, misplaced } = await drive(sizes, 2, 3, 1, seed);
      expect(misplaced).toBe(0);
      const runs = handed.filter((j) => j.kind === 'run').map((j) => (j.kind === 'run' ? j.run.id : ''));
      expect(runs.length).toBe(sizes.reduce((a, b) => a + b, 0));
      expect(new Set(runs).size).toBe(runs.length);
      // Single-run groups generate their own guest: only groups of more than one get a guest job.
      expect(handed.filter((j) => j.kind === 'guest').length).toBe(sizes.filter((n) => n > 1).length);
      expect(maxHeld).toBeLessThanOrEqual(3);
    }
  });

  it('a worker generates only when the generator alone cannot keep it in runs', async () => {
    // Groups of 8 runs, a guest of 4 runs' cost (the apache default's), two threads: the generator keeps up.
    // Groups of 2 such runs: it cannot, and an idle worker generates too; every run still once, after its guest.
    for (let seed = 1; seed <= 10; seed++) {
      expect((await drive([8, 8, 8, 8], 2, 3, 1, seed, 4)).misplaced).toBe(0);
      const few = await drive([2, 2, 2, 2, 2, 2], 2, 3, 1, seed, 4);
      expect(few.misplaced).toBeGreaterThan(0);
      expect(few.handed.filter((j) => j.kind === 'run').length).toBe(12);
      expect(few.maxHeld).toBeLessThanOrEqual(3);
    }
  });

  it('one thread alone holds one guest at a time, and each guest after the first reuses the first one\'s buffers', async () => {
    const { handed, maxHeld, fresh } = await drive([4, 3, 5], 1, 1, 0, 1);
    expect(maxHeld).toBe(1);
    expect(fresh).toBe(1);
    // Group order: a guest, then all its runs, then the next guest.
    expect(handed.map((j) => (j.kind === 'guest' ? 'G' : 'r')).join('')).toBe('GrrrrGrrrGrrrrr');
  });

  it("a worker's spare slot gets nothing once fewer runs are left than threads", async () => {
    const q = new SweepQueue(groups([1, 1, 1]), 2);
    expect((await q.take(true))?.kind).toBe('run');
    // Two runs left for two threads: they go to threads that ask for their only job.
    expect(await q.take(true)).toBeUndefined();
    expect((await q.take(false))?.kind).toBe('run');
  });
});
