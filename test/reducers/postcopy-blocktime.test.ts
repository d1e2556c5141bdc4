// QEMU's post-copy blocktime (migration/postcopy-ram.c
// mark_postcopy_blocktime_begin/end): each vCPU's blocktime is the sum of
// its fault waits; postcopy-blocktime is the time every vCPU was blocked at
// once. The intervals below are the three-vCPU picture in the comment above
// mark_postcopy_blocktime_end, given times.
import { describe, expect, it } from 'vitest';
import { PostcopyBlocktime } from '../../src/reducers/postcopy-blocktime.js';

describe('postcopy blocktime', () => {
  it("counts as total only the time every vCPU is blocked at once (QEMU's S1,S2,E1,S3,S1,E2,E3,E1)", () => {
    const b = new PostcopyBlocktime(3);
    // S1=1 E1=5, S1=7 E1=12 on CPU1; S2=3 E2=8 on CPU2; S3=6 E3=9 on CPU3: all three down from the second S1 (7) to E2 (8).
    b.blocked(0, 1, 5);
    b.blocked(0, 7, 12);
    b.blocked(1, 3, 8);
    b.blocked(2, 6, 9);
    expect(Array.from(b.vcpuBlocktimeNs)).toEqual([4 + 5, 5, 3]);
    expect(b.totalNs()).toBe(1);
  });

  it('with one vCPU the total is that vCPU blocktime', () => {
    const b = new PostcopyBlocktime(1);
    b.blocked(0, 10, 30);
    b.blocked(0, 50, 51);
    expect(b.totalNs()).toBe(21);
    expect(b.vcpuBlocktimeNs[0]).toBe(21);
  });

  it('faults that do not overlap add to each vCPU blocktime and nothing to the total', () => {
    const b = new PostcopyBlocktime(2);
    b.blocked(0, 0, 10);
    b.blocked(1, 10, 25);
    b.blocked(0, 30, 40);
    expect(Array.from(b.vcpuBlocktimeNs)).toEqual([20, 15]);
    expect(b.totalNs()).toBe(0);
  });

  it('takes the vCPUs in any order (the tracker sees them in guest-time order, not wall-time order)', () => {
    const b = new PostcopyBlocktime(2);
    b.blocked(1, 100, 200);
    b.blocked(0, 50, 150);
    b.blocked(0, 180, 300);
    expect(b.totalNs()).toBe(50 + 20);
  });
});
