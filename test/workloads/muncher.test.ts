import { describe, expect, it } from 'vitest';
import { faultReport, runWorkload } from './run-workload.js';

const MEM = 32_768; // 128 MiB keeps these fast

describe('muncher workload', () => {
  it('starts with all memory written except the zero fraction: exactly stats.zeroPages frames are never written', () => {
    const written = new Uint8Array(MEM);
    const r = runWorkload('muncher', {
      durationNs: 0.2e9,
      memPages: MEM,
      mmu: true,
      settings: { zero: 0.25, rate: 50_000 },
      onPageWritten: (pfn) => (written[pfn] = 1),
    });
    expect(r.mmu!.faults, faultReport(r.mmu)).toBe(0);
    const never = written.reduce((n, w) => n + (w ? 0 : 1), 0);
    expect(never).toBe(r.stats['zeroPages']);
    expect(never / MEM).toBeGreaterThanOrEqual(0.25);
    expect(never / MEM).toBeLessThan(0.26);
  });

  it('with zero = 0 and the default working set, writes (nearly) every frame of the guest', () => {
    const written = new Uint8Array(MEM);
    const r = runWorkload('muncher', { durationNs: 0.1e9, memPages: MEM, mmu: true, onPageWritten: (pfn) => (written[pfn] = 1) });
    const never = written.reduce((n, w) => n + (w ? 0 : 1), 0);
    expect(never).toBe(r.stats['zeroPages']);
    expect(never).toBeLessThanOrEqual(64 + 8); // the reserve kept for page tables
  });

  it('writes at the configured rate, the next page of its working set each time (sequential, wrapping)', () => {
    const vpns: number[] = [];
    const r = runWorkload('muncher', {
      durationNs: 0.5e9,
      memPages: MEM,
      mmu: true,
      settings: { rate: 20_000, wss: 1 << 20 },
      onAccess: (_t, _root, vpn, _pfn, write) => {
        if (write && vpn < 0xc0000) vpns.push(vpn);
      },
    });
    expect(r.stats['wssPages']).toBe(256);
    expect(vpns.length).toBe(20_000 * 0.5 + 1);
    for (let i = 1; i < vpns.length; i++) expect((vpns[i]! - vpns[0]!) & 255).toBe(i & 255);
  });

  it('random pattern: writes spread over the whole working set', () => {
    const seen = new Set<number>();
    runWorkload('muncher', {
      durationNs: 0.2e9,
      memPages: MEM,
      mmu: true,
      settings: { rate: 100_000, pattern: 'random', wss: 4 << 20 },
      onAccess: (_t, _root, vpn, _pfn, write) => {
        if (write && vpn < 0xc0000) seen.add(vpn);
      },
    });
    // 20,000 uniform draws over 1,024 pages leave none unwritten.
    expect(seen.size).toBe(1024);
  });

  it('runs without an MMU fault on HVM x86-64 with highmem-free direct map and on PAE PV with highmem', () => {
    for (const [guest, paging, memPages] of [
      ['hvm', 'x86-64', MEM],
      ['pv', 'pae', 262_144], // 1 GiB: 296 MiB of it is highmem, zeroed through kmap slots
    ] as const) {
      const r = runWorkload('muncher', { durationNs: 0.05e9, guest, paging, memPages, mmu: true, settings: { rate: 100_000, pattern: 'random' } });
      expect(r.mmu!.faults, faultReport(r.mmu)).toBe(0);
    }
  });
});
