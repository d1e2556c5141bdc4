// The importer's table of frame holders (src/import/frame-holders.ts)
// against the Map of one object per frame it replaced: after any sequence
// of new holders, replaced holders and shmem objects given to frames
// (frames above 32 bits included, where the hash takes the high half),
// every frame reads back the holder, page, guest vpn and object the Map
// holds, and a frame never set reads as absent, through the table's growth
// from 8 slots to tens of thousands.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { FrameHolders } from '../../src/import/frame-holders.js';

interface Use {
  space: string;
  page: number;
  gvpn: number;
  obj: number;
}

type Op = { kind: 'set'; frame: number; space: string; page: number; gvpn: number } | { kind: 'share'; frame: number; obj: number };

// Frames from a small range (so they repeat) or anywhere up to 2^52.
const frame = fc.oneof(fc.integer({ min: 1, max: 300 }), fc.integer({ min: 2 ** 32 - 100, max: 2 ** 32 + 100 }), fc.integer({ min: 1, max: 2 ** 52 }));
const op: fc.Arbitrary<Op> = fc.oneof(
  fc.record({ kind: fc.constant('set' as const), frame, space: fc.constantFrom('a', 'b', 'c'), page: fc.integer({ min: 0, max: 2 ** 40 }), gvpn: fc.integer({ min: 0, max: 2 ** 31 - 1 }) }),
  fc.record({ kind: fc.constant('share' as const), frame, obj: fc.integer({ min: 0, max: 1_000_000 }) }),
);

function check(t: FrameHolders<string>, ref: Map<number, Use>, probes: readonly number[]): void {
  expect(t.size).toBe(ref.size);
  // Differences are gathered, not asserted one by one: 50,000 expect calls take seconds.
  const wrong: string[] = [];
  for (const [f, u] of ref) {
    const i = t.find(f);
    if (i < 0 || t.space(i) !== u.space || t.page(i) !== u.page || t.gvpn(i) !== u.gvpn || t.obj(i) !== u.obj) wrong.push(`frame ${f}`);
  }
  for (const f of probes) if (!ref.has(f) && t.find(f) !== -1) wrong.push(`absent frame ${f}`);
  expect(wrong.slice(0, 5)).toEqual([]);
}

describe('FrameHolders reads back what a Map of frame to holder holds', () => {
  it('after any sets and shares, every frame has the Map holder, page, vpn and object, and others none', () => {
    fc.assert(
      fc.property(fc.array(op, { maxLength: 300 }), fc.array(frame, { maxLength: 20 }), (ops, probes) => {
        const t = new FrameHolders<string>(8);
        const ref = new Map<number, Use>();
        for (const o of ops) {
          if (o.kind === 'set') {
            const i = t.set(o.frame, o.space, o.page, o.gvpn);
            expect(t.find(o.frame)).toBe(i);
            ref.set(o.frame, { space: o.space, page: o.page, gvpn: o.gvpn, obj: -1 });
          } else {
            // As the importer does: only a frame with a holder gets an object.
            const i = t.find(o.frame);
            const u = ref.get(o.frame);
            expect(i >= 0).toBe(u !== undefined);
            if (u === undefined) continue;
            t.setObj(i, o.obj);
            u.obj = o.obj;
          }
        }
        check(t, ref, probes);
      }),
      { numRuns: 300, seed: 15 },
    );
  });

  it('holds 50,000 neighbouring and scattered frames through its growth', () => {
    const t = new FrameHolders<string>(8);
    const ref = new Map<number, Use>();
    let x = 0x2545f491;
    for (let k = 0; k < 50_000; k++) {
      x ^= x << 13;
      x ^= x >>> 17;
      x ^= x << 5;
      // Half a run of neighbours (a shared buffer pool), half scattered above 2^32.
      const f = k % 2 === 0 ? 0x100000 + k : 2 ** 32 + (x >>> 0) * 4096;
      const u = { space: k % 3 === 0 ? 'a' : 'b', page: 0x7f0000000 + k, gvpn: k, obj: -1 };
      t.set(f, u.space, u.page, u.gvpn);
      ref.set(f, u);
    }
    check(t, ref, [0x100000 - 1, 0x100000 + 1, 7, 2 ** 32 + 1]);
  });

  it('refuses frame 0, the empty-slot mark', () => {
    expect(() => new FrameHolders<string>().set(0, 'a', 1, 1)).toThrow(RangeError);
  });
});
