import { describe, expect, it } from 'vitest';
import { GuestEventKind } from '../../src/events/guest-event-kind.js';
import type { GuestType, PagingMode } from '../../src/model/paging.js';
import { faultReport, runWorkload } from './run-workload.js';

describe('boot workload', () => {
  it('ends, with its defaults on a PAE PV guest, near the reference: ~19 L3, ~71 L2, ~341 L1, 70-80% of leaf slots A+D+RW', () => {
    // Seed 000: 341 L1, 71 L2, 19 L3 page-table pages; 70-80% of 341 x 512 slots with D, A and RW.
    const r = runWorkload('boot', { durationNs: 4e9, mmu: true });
    const s = r.mmu!;
    expect(s.faults, faultReport(s)).toBe(0);
    const [l1, l2, l3] = s.levels.map((l) => l.ptPages);
    expect(l3).toBe(19); // 18 processes and the kernel's own root
    expect(l2! / l3!).toBeGreaterThan(3.5);
    expect(l2! / l3!).toBeLessThan(4);
    expect(l2).toBeGreaterThanOrEqual(65);
    expect(l2).toBeLessThanOrEqual(78);
    expect(l1).toBeGreaterThanOrEqual(320);
    expect(l1).toBeLessThanOrEqual(360);
    const share = s.leafEntriesAccessedDirtyWritable / s.leafSlots;
    expect(share).toBeGreaterThanOrEqual(0.7);
    expect(share).toBeLessThanOrEqual(0.8);
    // The kernel's own census (what it wrote, plus the A/D bits of the accesses it emitted) agrees with the hardware's.
    expect(r.stats['ptPagesL1']).toBe(l1);
    expect(r.stats['ptPagesL2']).toBe(l2);
    expect(r.stats['ptPagesL3']).toBe(l3);
    expect(r.stats['leafAccessedDirtyWritable']).toBe(s.leafEntriesAccessedDirtyWritable);
    expect(r.stats['liveProcesses']).toBe(18);
    expect(r.stats['processesExited']).toBeGreaterThan(100); // the rc scripts' commands and the daemonising parents
    expect(r.lastNs).toBe(4e9);
  });

  const modes: [GuestType, PagingMode][] = [
    ['hvm', 'pae'],
    ['pv', 'x86-64'],
    ['hvm', 'x86-64'],
  ];
  for (const [guest, paging] of modes) {
    it(`boots without a single MMU fault on ${guest} ${paging}, and the kernel's census matches the MMU's`, () => {
      const r = runWorkload('boot', { durationNs: 3.5e9, guest, paging, mmu: true, memPages: 196_608 });
      const s = r.mmu!;
      expect(s.faults, faultReport(s)).toBe(0);
      s.levels.forEach((l) => expect(r.stats[`ptPagesL${l.level}`]).toBe(l.ptPages));
      expect(r.stats['leafAccessedDirtyWritable']).toBe(s.leafEntriesAccessedDirtyWritable);
      // Every process has its own root; the kernel's tables are shared, not copied per process (except PAE PV's kernel L2).
      expect(s.levels[s.levels.length - 1]!.ptPages).toBe(19);
    });
  }

  it('stops at the end of a run shorter than the boot, with events up to that time only', () => {
    const r = runWorkload('boot', { durationNs: 0.5e9, memPages: 131_072 });
    expect(r.lastNs).toBe(0.5e9);
    expect(r.stats['liveProcesses']).toBeLessThan(18);
  });

  it('loads the kernel image with physical writes before the kernel writes its first page-table entry', () => {
    const r = runWorkload('boot', { durationNs: 1e9, memPages: 131_072 });
    expect(r.eventsByKind[GuestEventKind.physWrite]).toBeGreaterThanOrEqual(1536);
    expect(r.eventsByKind[GuestEventKind.ptWrite]).toBeGreaterThan(131_072 / 2);
  });
});
