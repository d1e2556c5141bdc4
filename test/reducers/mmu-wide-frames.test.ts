// Checks PTEs of two words (src/model/pte.ts): an HVM guest of more than
// 2^24 frames (64 GiB) names frames above 2^24 in its PTEs, the high word
// riding in the pt_write's arg above the entry index. The MMU must walk such
// a guest exactly as it walks the same tables placed below 2^24: the same
// outputs, A/D stores, census and faults, every pfn shifted by 2^24.
import { describe, expect, it } from 'vitest';
import type { GuestBatch } from '../../src/events/guest-batch.js';
import { ACCESS_FAULT } from '../../src/reducers/mmu-output.js';
import { Mmu } from '../../src/reducers/mmu.js';
import { vpnOf } from '../../src/model/paging.js';
import { makePte, NARROW_FRAMES, PTE_HIGH_SHIFT, PTE_P, PTE_PS, PTE_RW, PTE_US, pteHigh } from '../../src/model/pte.js';
import { EventScript } from '../helpers/mmu-script.js';

const FLAGS = PTE_P | PTE_RW | PTE_US;
const SMALL_PAGES = 4096;

/**
 * A guest whose tables sit at `base` + 100.. and map data pages at `base` +
 * 200.., walked once, written twice and read, with a 2 MiB page and a PTE
 * naming a frame past memory (a fault): one batch.
 */
function script(base: number): GuestBatch {
  const s = new EventScript();
  const pte = (table: number, index: number, frame: number, flags: number) => {
    const value = makePte(frame, flags);
    s.ptWrite(table, index | (pteHigh(value) << PTE_HIGH_SHIFT), value | 0);
  };
  const [root, l3, l2, l1] = [base + 100, base + 101, base + 102, base + 103];
  pte(root, 1, l3, FLAGS);
  pte(l3, 2, l2, FLAGS);
  pte(l2, 3, l1, FLAGS);
  pte(l1, 4, base + 200, FLAGS);
  pte(l1, 5, base + 201, PTE_P | PTE_US); // read-only
  pte(l2, 6, base + 1024, FLAGS | PTE_PS); // 2 MiB at base + 1024
  pte(l1, 7, base + SMALL_PAGES + 5, FLAGS); // past memory: a fault
  s.cr3Load(0, root);
  const vpn = (i1: number, i2 = 3) => vpnOf('x86-64', [0, 1, 2, i2]) * 512 + i1;
  s.write(0, vpn(4)).write(0, vpn(4)).read(0, vpn(4));
  s.write(0, vpn(5)).read(0, vpn(5));
  s.write(0, vpn(9, 6)).read(0, vpn(10, 6));
  s.read(0, vpn(7));
  s.physWrite(base + 300);
  return s.take();
}

describe('PTEs of two words', () => {
  it('an HVM guest over 64 GiB walks frames above 2^24 as a small guest walks the same tables below it', () => {
    const narrow = new Mmu({ guest: 'hvm', paging: 'x86-64', memPages: SMALL_PAGES, vcpus: 1, seed: 1 });
    const wide = new Mmu({ guest: 'hvm', paging: 'x86-64', memPages: NARROW_FRAMES + SMALL_PAGES, vcpus: 1, seed: 1 });
    expect(narrow.wideFrames).toBe(false);
    expect(wide.wideFrames).toBe(true);
    const a = narrow.apply(script(0));
    const aOut = { dataPfn: Array.from(a.dataPfn), access: Array.from(a.access), walkPfns: Array.from(a.walkPfns), ad: Array.from(a.adEvent), adPt: Array.from(a.adPtPfn) };
    const b = wide.apply(script(NARROW_FRAMES));
    const shift = (p: number) => (p < 0 ? p : p - NARROW_FRAMES);
    expect(Array.from(b.dataPfn, shift)).toEqual(aOut.dataPfn);
    expect(Array.from(b.access)).toEqual(aOut.access);
    expect(Array.from(b.walkPfns, shift)).toEqual(aOut.walkPfns);
    expect(Array.from(b.adEvent)).toEqual(aOut.ad);
    expect(Array.from(b.adPtPfn, shift)).toEqual(aOut.adPt);
    const sa = narrow.stats();
    const sb = wide.stats();
    expect(sb.levels).toEqual(sa.levels);
    expect(sb.faults).toEqual(sa.faults);
    expect(sb.faultsByReason).toEqual(sa.faultsByReason);
    // Not vacuous: the data page is above 2^24, the walk set A and D, one access faulted, one used the 2 MiB page.
    expect(b.dataPfn[b.count - 9]).toBe(NARROW_FRAMES + 200);
    expect(b.adCount).toBeGreaterThan(3);
    expect(Array.from(b.access).some((x) => (x & ACCESS_FAULT) !== 0)).toBe(true);
    expect(Array.from(b.dataPfn)).toContain(NARROW_FRAMES + 1024 + 9);
  });

  it("a guest of at most 64 GiB refuses a pt_write whose arg carries a high word: its entries have one", () => {
    const narrow = new Mmu({ guest: 'hvm', paging: 'x86-64', memPages: SMALL_PAGES, vcpus: 1, seed: 1 });
    const s = new EventScript();
    s.ptWrite(100, 1 | (1 << PTE_HIGH_SHIFT), makePte(5, FLAGS));
    expect(() => narrow.apply(s.take())).toThrow(/entry index 513/);
  });
});
