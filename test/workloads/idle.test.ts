import { describe, expect, it } from 'vitest';
import { GuestEventKind } from '../../src/events/guest-event-kind.js';
import { faultReport, runWorkload } from './run-workload.js';

describe('idle workload', () => {
  it('ticks HZ times a second on every vCPU, with an idle event before each tick and nothing else after boot', () => {
    const written = new Set<number>();
    const r = runWorkload('idle', {
      durationNs: 1e9,
      memPages: 32_768,
      vcpus: 4,
      mmu: true,
      onAccess: (t, _root, _vpn, pfn, write) => {
        if (write && t > 1e6) written.add(pfn);
      },
    });
    expect(r.mmu!.faults, faultReport(r.mmu)).toBe(0);
    const ticks = 250 * 4;
    // One idle event per tick and vCPU (plus one per vCPU at the end of the run).
    expect(r.eventsByKind[GuestEventKind.idle]).toBeGreaterThanOrEqual(ticks);
    expect(r.eventsByKind[GuestEventKind.idle]).toBeLessThanOrEqual(ticks + 8);
    // A handful of kernel pages: jiffies, a per-CPU page and the tick's pool per vCPU.
    expect(written.size).toBeGreaterThanOrEqual(5);
    expect(written.size).toBeLessThanOrEqual(1 + 4 + 4 * 8);
    expect(r.lastNs).toBe(1e9);
  });
});
