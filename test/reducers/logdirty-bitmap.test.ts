// Checks that CLEAN, FINAL and PEEK copy the log-dirty bitmap into the
// toolstack's own buffer when it passes one (as xc_shadow_control copies
// into the dirty_bitmap its caller hands it): the same bits as a new copy,
// the buffer itself returned, a bitmap reset by CLEAN either way, and a
// buffer of the wrong length refused. The rounds' own figures with the
// copier's two buffers are held by the goldens and ept-loop.test.ts.
import { describe, expect, it } from 'vitest';
import { LogDirtyBitmap } from '../../src/reducers/logdirty-bitmap.js';
import { physWrites, setOf, makeTrackerSim } from '../helpers/tracker-sim.js';
import { EventScript } from '../helpers/mmu-script.js';

describe("log-dirty copies into the caller's buffer", () => {
  it('clean into a buffer returns that buffer, with the bits a new copy would hold, and resets the bitmap', () => {
    const pfns = [0, 31, 32, 4095, 70_000, 99_999];
    const fresh = new LogDirtyBitmap(100_000);
    const reused = new LogDirtyBitmap(100_000);
    for (const p of pfns) {
      fresh.mark(p);
      reused.mark(p);
    }
    // A buffer holding stale bits from an earlier round: every word is overwritten.
    const into = new Uint32Array(Math.ceil(100_000 / 32)).fill(0xffffffff);
    const copy = fresh.clean();
    const got = reused.clean(into);
    expect(got).toBe(into);
    expect(Array.from(got)).toEqual(Array.from(copy));
    expect(setOf(got)).toEqual(pfns);
    expect(reused.dirtyCount).toBe(0);
    expect(setOf(reused.peek())).toEqual([]);
  });

  it('peek into a buffer leaves the bitmap as it is', () => {
    const b = new LogDirtyBitmap(64);
    b.mark(5);
    const into = new Uint32Array(2);
    expect(setOf(b.peek(into))).toEqual([5]);
    expect(b.dirtyCount).toBe(1);
    expect(b.isDirty(5)).toBe(true);
  });

  it('a buffer of another length is refused', () => {
    const b = new LogDirtyBitmap(100);
    expect(() => b.clean(new Uint32Array(3))).toThrow(RangeError);
    expect(() => b.peek(new Uint32Array(5))).toThrow(RangeError);
  });

  it('each tracker kind copies CLEAN and FINAL into the buffer passed, the same bits and exits as with new copies', () => {
    for (const tracker of ['shadow', 'hap', 'pml', 'kvm-wp', 'kvm-pml', 'kvm-ring'] as const) {
      // Two runs of the same writes: one whose copier passes one buffer to every CLEAN and FINAL, one taking new copies.
      const withBuffer = makeTrackerSim(tracker);
      const fresh = makeTrackerSim(tracker);
      const into = new Uint32Array(Math.ceil(4096 / 32));
      const seen: number[][][] = [[], []];
      for (const [k, sim] of [withBuffer, fresh].entries()) {
        const s = new EventScript();
        const buffer = k === 0 ? into : undefined;
        sim.tracker.enable(0);
        sim.step(physWrites(s, [10, 11, 700], 0));
        const bits = sim.tracker.clean(sim.clock.nowNs, buffer);
        if (buffer) expect(bits, tracker).toBe(buffer);
        seen[k]!.push(setOf(bits));
        sim.step(physWrites(s, [12, 700, 3000], 1));
        const fin = sim.tracker.final(sim.clock.nowNs, buffer);
        if (buffer) expect(fin, tracker).toBe(buffer);
        seen[k]!.push(setOf(fin));
      }
      expect(seen[0], tracker).toEqual(seen[1]);
      expect(seen[0]![1], tracker).toEqual(expect.arrayContaining([12, 700, 3000]));
      expect(Array.from(withBuffer.tracker.exitCounts), tracker).toEqual(Array.from(fresh.tracker.exitCounts));
    }
  });
});
