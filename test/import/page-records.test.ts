// The importer's per-page table (src/import/page-records.ts) against the
// Maps and Sets it replaced: after any writes of frames, shmem objects and
// flags, a fork's inheritance (into an empty or a used table) and a
// release, every page reads back what the Maps would hold, through the
// table's growth from 64 slots to thousands.
import { describe, expect, it } from 'vitest';
import { PAGE_INHERITED, PAGE_LISTED, PAGE_PRESENT, PageRecords } from '../../src/import/page-records.js';

interface Ref {
  frame: Map<number, number>;
  shmem: Map<number, number>;
  listed: Set<number>;
  present: Set<number>;
  inherited: Set<number>;
}

const emptyRef = (): Ref => ({ frame: new Map(), shmem: new Map(), listed: new Set(), present: new Set(), inherited: new Set() });

/** A fixed xorshift, so the test is the same in every run. */
function xorshift(seed: number): (n: number) => number {
  let x = seed;
  return (n) => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>> 0) % n;
  };
}

/** Random edits to both; pages drawn from `span` vpns above `base` (a 2 MiB-aligned guest GiB, as the vpn map gives out). */
function edit(rec: PageRecords, ref: Ref, rand: (n: number) => number, steps: number, base: number, span: number): void {
  for (let s = 0; s < steps; s++) {
    const gvpn = base + rand(span);
    const i = rec.slot(gvpn);
    switch (rand(5)) {
      case 0: {
        // Frames past 32 bits too: their high word shares an Int32 with the flags.
        const f = rand(2) === 0 ? 1 + rand(1 << 20) : 2 ** 51 + rand(1 << 30) * 4099;
        rec.setFrame(i, f);
        ref.frame.set(gvpn, f);
        break;
      }
      case 1: {
        const o = rand(3) === 0 ? -1 : rand(1000);
        rec.setShmem(i, o);
        if (o < 0) ref.shmem.delete(gvpn);
        else ref.shmem.set(gvpn, o);
        break;
      }
      case 2:
        rec.list(i);
        ref.listed.add(gvpn);
        break;
      case 3:
        rec.setFlags(i, rec.flags(i) | PAGE_PRESENT);
        ref.present.add(gvpn);
        break;
      default:
        rec.setFlags(i, rec.flags(i) & ~PAGE_PRESENT);
        ref.present.delete(gvpn);
    }
  }
}

function expectSame(rec: PageRecords, ref: Ref, base: number, span: number): void {
  const wrong: number[] = [];
  for (let gvpn = base; gvpn < base + span; gvpn++) {
    const i = rec.find(gvpn);
    const frame = i < 0 ? 0 : rec.frame(i);
    const shmem = i < 0 ? -1 : rec.shmem(i);
    const flags = i < 0 ? 0 : rec.flags(i);
    const want = (ref.listed.has(gvpn) ? PAGE_LISTED : 0) | (ref.present.has(gvpn) ? PAGE_PRESENT : 0) | (ref.inherited.has(gvpn) ? PAGE_INHERITED : 0);
    if (frame !== (ref.frame.get(gvpn) ?? 0) || shmem !== (ref.shmem.get(gvpn) ?? -1) || flags !== want || rec.frameOf(gvpn) !== frame) wrong.push(gvpn);
  }
  expect(wrong.slice(0, 5)).toEqual([]);
  expect(rec.listed).toBe(ref.listed.size);
}

/** What the importer's fork did with its Maps: copy frames, shmem and present; inherited is the parent's present; listed stays the child's. */
function refFork(child: Ref, parent: Ref): void {
  for (const [v, f] of parent.frame) child.frame.set(v, f);
  for (const [v, o] of parent.shmem) child.shmem.set(v, o);
  for (const v of parent.present) child.present.add(v);
  child.inherited = new Set(parent.present);
}

describe('PageRecords holds what the Maps and Sets it replaced held', () => {
  it('reads back every page after edits, forks into empty and used tables, and a release that keeps only the frames', () => {
    const base = 1 << 18;
    const span = 20_000;
    const rand = xorshift(0x2545f491);
    const parent = new PageRecords();
    const parentRef = emptyRef();
    edit(parent, parentRef, rand, 30_000, base, span);
    expectSame(parent, parentRef, base, span);

    // A fork into a fresh space (the importer's case) and into one already written.
    const fresh = new PageRecords();
    const freshRef = emptyRef();
    fresh.inheritFrom(parent);
    refFork(freshRef, parentRef);
    expectSame(fresh, freshRef, base, span);
    const used = new PageRecords();
    const usedRef = emptyRef();
    edit(used, usedRef, rand, 5_000, base, span);
    used.inheritFrom(parent);
    refFork(usedRef, parentRef);
    expectSame(used, usedRef, base, span);
    // The child's edits do not reach the parent.
    edit(fresh, freshRef, rand, 5_000, base, span);
    expectSame(parent, parentRef, base, span);
    expectSame(fresh, freshRef, base, span);

    parent.release();
    expectSame(parent, { ...emptyRef(), frame: parentRef.frame }, base, span);
  });
});
