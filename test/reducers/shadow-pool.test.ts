// The pool's generation is what the shadow tracker's walk cache trusts: it
// must move whenever a present shadow entry is cleared or repointed (a
// cached walk through it would now be wrong), and may stay put when an
// empty entry is filled (no walk that found every entry present used it).
import { describe, expect, it } from 'vitest';
import { ShadowPool } from '../../src/reducers/shadow-pool.js';

function pool(): ShadowPool {
  return new ShadowPool(4096, 64, 1);
}

describe('shadow pool generation', () => {
  it('filling an empty entry, allocating and re-linking the same child leave the generation as it was', () => {
    const p = pool();
    const top = p.alloc(1, 4, 0);
    const l3 = p.alloc(2, 3, 0);
    const g = p.generation;
    p.link(top, 5, l3);
    p.link(top, 5, l3);
    p.alloc(3, 2, 0);
    expect(p.generation).toBe(g);
  });

  it('repointing, clearing and unhooking a present entry each move the generation', () => {
    const p = pool();
    const top = p.alloc(1, 4, 0);
    const a = p.alloc(2, 3, 0);
    const b = p.alloc(3, 3, 0);
    p.link(top, 5, a);
    let g = p.generation;
    p.link(top, 5, b);
    expect(p.generation).not.toBe(g);
    g = p.generation;
    p.unlink(top, 5);
    expect(p.generation).not.toBe(g);
    const c = p.alloc(4, 3, 0);
    p.link(top, 6, c);
    g = p.generation;
    p.unhook(top);
    expect(p.generation).not.toBe(g);
  });

  it('a shadow is freed only after the generation moved: its slot, reused, cannot be mistaken for the old one', () => {
    const p = pool();
    const top = p.alloc(1, 4, 0);
    p.pin(top);
    const l3 = p.alloc(2, 3, 0);
    const l2 = p.alloc(3, 2, 0);
    p.link(top, 0, l3);
    p.link(l3, 0, l2);
    const g = p.generation;
    p.unlink(top, 0); // frees l3, and l2 with it
    expect(p.lookup(2, 3)).toBe(-1);
    expect(p.lookup(3, 2)).toBe(-1);
    expect(p.generation).not.toBe(g);
  });
});
