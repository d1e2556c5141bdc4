import { describe, expect, it } from 'vitest';
import { GuestBatchBuilder } from '../../src/events/guest-batch-builder.js';
import type { GuestType, PagingMode } from '../../src/model/paging.js';
import { Mmu } from '../../src/reducers/mmu.js';
import { GuestKernel, KERNEL_PID } from '../../src/workloads/guest-kernel.js';
import { LD_SO, LIBC, type ProgramImage } from '../../src/workloads/guest-program.js';
import { ReplayMmu } from './replay-mmu.js';
import { faultReport } from './run-workload.js';

const SHELL: ProgramImage = {
  path: '/bin/sh',
  textPages: 150,
  dataPages: 6,
  bssPages: 4,
  heapPages: 64,
  stackPages: 32,
  libraries: [LD_SO, LIBC],
};

/**
 * A booted kernel whose events go to two MMUs: the project's hardware MMU
 * reducer and an independent test-only one (which also checks Xen's rule
 * that no page-table page is mapped writable).
 */
function setup(guest: GuestType, paging: PagingMode, memPages = 16384, vcpus = 2) {
  const mmu = new ReplayMmu(memPages, guest, paging, 7, vcpus);
  const hw = new Mmu({ guest, paging, memPages, vcpus, seed: 7 });
  const out = new GuestBatchBuilder((b) => {
    mmu.apply(b);
    hw.apply(b);
  }, 4096);
  const kernel = new GuestKernel({ seed: 7, memPages, vcpus, guest, paging, imagePages: 256, modulePages: 64 }, out);
  kernel.boot(0, 0);
  return { kernel, out, mmu, hw };
}

/** A process running SHELL on vCPU 0 that has touched its data, heap and stack. */
function startShell(kernel: GuestKernel, t: number) {
  const pid = kernel.createProcess(0, t);
  kernel.switchTo(0, pid, t);
  kernel.exec(pid, 0, SHELL, t);
  const l = kernel.layoutOf(pid);
  for (let i = 0; i < 20; i++) kernel.touch(pid, 0, l.textVpn + i, false, t);
  for (let i = 0; i < l.dataPages; i++) kernel.touch(pid, 0, l.dataVpn + i, true, t);
  for (let i = 0; i < 16; i++) kernel.touch(pid, 0, l.heapVpn + i, true, t);
  for (let i = 0; i < 4; i++) kernel.touch(pid, 0, l.stackVpn + l.stackPages - 1 - i, true, t);
  for (const lib of l.libraries) kernel.touch(pid, 0, lib.dataVpn, true, t);
  return pid;
}

const MODES: [GuestType, PagingMode][] = [
  ['pv', 'pae'],
  ['hvm', 'pae'],
  ['pv', 'x86-64'],
  ['hvm', 'x86-64'],
];

describe('guest kernel', () => {
  for (const [guest, paging] of MODES) {
    describe(`${guest} ${paging}`, () => {
      it('fork adds the child root and its tables, and exit gives every table and page back', () => {
        const { kernel, out, mmu, hw } = setup(guest, paging);
        const booted = kernel.census().tablesPerLevel;
        const freeAtBoot = kernel.freePages;
        const pid = startShell(kernel, 1000);
        const withParent = kernel.census().tablesPerLevel;
        const freeWithParent = kernel.freePages;
        const child = kernel.fork(pid, 0, 2000);
        const withChild = kernel.census().tablesPerLevel;
        const top = kernel.levels - 1;
        // The child has its own root, and (PAE) its own four L2s (three for HVM plus the shared kernel L2).
        expect(withChild[top]! - withParent[top]!).toBe(1);
        if (paging === 'pae') expect(withChild[1]! - withParent[1]!).toBe(guest === 'pv' ? 4 : 3);
        // It copied the L1 tables of the private writable mappings (data, heap, stack): fewer than the parent's.
        const childL1 = withChild[0]! - withParent[0]!;
        expect(childL1).toBeGreaterThan(0);
        expect(childL1).toBeLessThanOrEqual(withParent[0]! - booted[0]!);
        kernel.exit(child, 0, 3000);
        expect(kernel.census().tablesPerLevel).toEqual(withParent);
        expect(kernel.freePages).toBe(freeWithParent);
        kernel.exit(pid, 0, 4000);
        expect(kernel.census().tablesPerLevel).toEqual(booted);
        // Only the page cache (program files read from disk) stays allocated.
        expect(freeAtBoot - kernel.freePages).toBe(kernel.counters.diskReads);
        out.flush();
        expect(mmu.faults, mmu.faultNotes.join('\n')).toBe(0);
        // The MMUs, from the events alone, agree: only the kernel's own tables remain.
        expect(mmu.census().perLevel).toEqual(booted);
        expect(hw.stats().faults).toBe(0);
        expect(hw.stats().levels.map((l) => l.ptPages)).toEqual(booted);
      });

      it('copy-on-write copies a page once: the second write to it does not copy', () => {
        const { kernel, out, mmu } = setup(guest, paging);
        const pid = startShell(kernel, 1000);
        const heap = kernel.layoutOf(pid).heapVpn;
        const child = kernel.fork(pid, 0, 2000);
        kernel.switchTo(1, child, 2000);
        const before = kernel.counters.cowCopies;
        kernel.touch(child, 1, heap, true, 3000);
        expect(kernel.counters.cowCopies).toBe(before + 1);
        kernel.touch(child, 1, heap, true, 3100);
        expect(kernel.counters.cowCopies).toBe(before + 1);
        // The parent is now the only user of its frame: it regains RW without a copy.
        kernel.touch(pid, 0, heap, true, 3200);
        expect(kernel.counters.cowCopies).toBe(before + 1);
        expect(kernel.counters.cowReuses).toBe(1);
        out.flush();
        expect(mmu.faults, mmu.faultNotes.join('\n')).toBe(0);
      });

      it('never emits a write through a read-only or missing mapping, across fork, exec and exit', () => {
        const { kernel, out, mmu, hw } = setup(guest, paging);
        let t = 1000;
        const init = startShell(kernel, t);
        const kids: number[] = [];
        for (let k = 0; k < 6; k++) {
          t += 10_000;
          kernel.switchTo(0, init, t);
          const c = kernel.fork(init, 0, t);
          kids.push(c);
          const v = k % 2;
          kernel.switchTo(v, c, t);
          const l = kernel.layoutOf(c);
          for (let i = 0; i < 16; i++) kernel.touch(c, v, l.heapVpn + i, (i & 1) === 0, t + i);
          if (k % 3 === 0) {
            kernel.exec(c, v, SHELL, t + 100);
            const l2 = kernel.layoutOf(c);
            kernel.touch(c, v, l2.stackVpn + l2.stackPages - 1, true, t + 200);
            kernel.touch(c, v, l2.dataVpn, false, t + 200);
            kernel.touch(c, v, l2.dataVpn, true, t + 300);
          }
          kernel.timerTick(v, t + 400);
        }
        const shm = kernel.createShmem('scoreboard', 4);
        kernel.switchTo(0, init, t + 500);
        const sb = kernel.mapShared(init, shm);
        kernel.touch(init, 0, sb, true, t + 600);
        const c = kernel.fork(init, 0, t + 700);
        kernel.switchTo(1, c, t + 800);
        kernel.touch(c, 1, sb, true, t + 900);
        kernel.touch(c, 1, sb + 1, false, t + 900);
        for (const k of [...kids, c]) kernel.exit(k, 1, t + 1000);
        kernel.switchTo(1, KERNEL_PID, t + 1100);
        out.flush();
        expect(mmu.faults, mmu.faultNotes.join('\n')).toBe(0);
        const hwStats = hw.stats();
        expect(hwStats.faults, faultReport(hwStats)).toBe(0);
        expect(hwStats.levels.map((l) => l.ptPages)).toEqual(kernel.census().tablesPerLevel);
        expect(hwStats.leafEntriesAccessedDirtyWritable).toBe(kernel.census().leafAccessedDirtyWritable);
        const census = mmu.census();
        expect(census.perLevel).toEqual(kernel.census().tablesPerLevel);
        expect(census.adrw).toBe(kernel.census().leafAccessedDirtyWritable);
        // Xen's rule for PV: no page-table page is mapped writable anywhere.
        if (guest === 'pv') expect(census.writableTablePages).toBe(0);
      });
    });
  }

  it('a one-page shmem object (kept as two numbers, not an object) is one frame for every process mapping it, freed with its last mapping', () => {
    // The rtdirty importer's shared frames: one-page objects mapped
    // MAP_SHARED over a page of two processes. The page cache keeps such an
    // object as a pfn and a mapping count; what a kernel does with it must
    // be what it does with any shmem object: the first write takes one
    // frame, a second process's write lands on that frame (it takes none
    // but its page tables'), munmap of one mapping frees nothing but page
    // tables, and munmap of the last frees the frame too.
    const { kernel, out, hw } = setup('hvm', 'x86-64');
    const tables = () => kernel.census().tablesPerLevel.reduce((x, y) => x + y, 0);
    /** Frames `step` took (negative: freed), less those of page-table pages. */
    const framesTaken = (step: () => void): number => {
      const free = kernel.freePages;
      const t = tables();
      step();
      return free - kernel.freePages - (tables() - t);
    };
    const a = kernel.createProcess(0, 0);
    const b = kernel.createProcess(1, 0);
    kernel.switchTo(0, a, 0);
    kernel.switchTo(1, b, 0);
    const vpn = 0x600000;
    const shm = kernel.createShmem('frame', 1);
    kernel.mapShared(a, shm, vpn);
    kernel.mapShared(b, shm, vpn + 7);
    expect(kernel.cachedPages(shm)).toBe(0);
    expect(framesTaken(() => kernel.touch(a, 0, vpn, true, 100))).toBe(1);
    expect(kernel.cachedPages(shm)).toBe(1);
    expect(framesTaken(() => kernel.touch(b, 1, vpn + 7, true, 200))).toBe(0);
    expect(framesTaken(() => kernel.unmap(a, vpn, 1, 0, 300))).toBe(0);
    expect(kernel.cachedPages(shm)).toBe(1);
    expect(framesTaken(() => kernel.unmap(b, vpn + 7, 1, 1, 400))).toBe(-1);
    expect(kernel.cachedPages(shm)).toBe(0);
    out.flush();
    expect(hw.stats().faults, faultReport(hw.stats())).toBe(0);
  });

  it('builds an address space by hand, as an importer will: map, write, fork, unmap, with no MMU fault', () => {
    const { kernel, out, hw } = setup('pv', 'x86-64');
    const pid = kernel.createProcess(0, 0);
    kernel.switchTo(0, pid, 0);
    const heap = 0x600000; // vpn of a 24 GiB address: its own L3, L2 and L1
    kernel.mapPages(pid, 1024, true, heap);
    const tables = kernel.census().tablesPerLevel.slice();
    for (let i = 0; i < 1024; i += 3) kernel.touch(pid, 0, heap + i, true, 100 + i);
    const grown = kernel.census().tablesPerLevel;
    expect(grown[0]! - tables[0]!).toBe(2); // 1024 pages span two leaf tables
    expect(grown[1]! - tables[1]!).toBe(1);
    expect(grown[2]! - tables[2]!).toBe(1);
    const child = kernel.fork(pid, 0, 2000);
    kernel.switchTo(1, child, 2000);
    kernel.touch(child, 1, heap, true, 3000);
    expect(kernel.counters.cowCopies).toBe(1);
    // munmap of the second half: its leaf table is freed, its frames kept only by the child.
    const free = kernel.freePages;
    kernel.unmap(pid, heap + 512, 512, 0, 4000);
    expect(kernel.census().tablesPerLevel[0]).toBe(grown[0]! + 2 - 1);
    expect(kernel.freePages).toBe(free + 1); // the freed leaf table; the pages are still the child's
    kernel.exit(child, 1, 5000);
    kernel.exit(pid, 0, 6000);
    out.flush();
    expect(hw.stats().faults, faultReport(hw.stats())).toBe(0);
    expect(hw.stats().levels.map((l) => l.ptPages)).toEqual(kernel.census().tablesPerLevel);
  });

  it('refuses an access outside every mapping, and one by a process not loaded on the vCPU, with a message that says why', () => {
    const { kernel } = setup('hvm', 'pae');
    const pid = kernel.createProcess(0, 0);
    expect(() => kernel.touch(pid, 0, 0x1000, true, 10)).toThrow(/not running on vCPU 0.*switchTo/);
    kernel.switchTo(0, pid, 0);
    expect(() => kernel.touch(pid, 0, 0x1000, true, 10)).toThrow(/outside its mappings/);
    kernel.mapPages(pid, 4, false, 0x1000);
    expect(() => kernel.touch(pid, 0, 0x1000, true, 10)).toThrow(/wrote read-only/);
  });

  it("an x86-64 HVM guest's direct map is 2 MiB pages however small the guest, a PV guest's 4 KiB pages", () => {
    const pv = setup('pv', 'x86-64');
    const hvm = setup('hvm', 'x86-64');
    pv.out.flush();
    hvm.out.flush();
    // The same tables but the direct map's leaves: PV maps it with 4 KiB
    // pages (Xen allows no superpages), HVM x86-64 with 2 MiB pages, as
    // Linux does on a CPU with PSE (arch/x86/mm/init_64.c phys_pmd_init):
    // PV has one L1 more per 2 MiB of the 16,384-page (64 MiB) guest, 32.
    const pvLevels = pv.mmu.census().perLevel;
    const hvmLevels = hvm.mmu.census().perLevel;
    expect(pvLevels.slice(1)).toEqual(hvmLevels.slice(1));
    expect(pvLevels[0]! - hvmLevels[0]!).toBe(16_384 / 512);
    expect(hvm.kernel.census().leafAccessedDirtyWritable).toBe(hvm.hw.stats().leafEntriesAccessedDirtyWritable);
  });

  it('maps PV page-table frames as machine frames and HVM ones as pseudo-physical frames', () => {
    const pv = setup('pv', 'x86-64');
    const hvm = setup('hvm', 'x86-64');
    pv.out.flush();
    hvm.out.flush();
    expect(pv.kernel.frameOfPfn!.some((m, p) => m !== p)).toBe(true);
    // An HVM guest's PTEs hold the pfn itself: no translation table is kept.
    expect(hvm.kernel.frameOfPfn).toBeUndefined();
  });
});
