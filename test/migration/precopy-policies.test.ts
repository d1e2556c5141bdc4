// Checks the pre-copy policies against the closed-form model and each real
// system's stop rules (DESIGN section 7): Xen migration v2's 5 passes and
// 50-page target, xc_domain_save's 29 iterations, 50 pages and 3x memory,
// QEMU's switch-over at the downtime limit and auto-converge's steps.
import { describe, expect, it } from 'vitest';
import { runMigration } from '../../src/api/run-migration.js';
import { PAGE_WIRE, ZERO_COSTS } from '../helpers/zero-costs.js';
import { config, customSource, fixedSetWriter, sequentialWriter } from '../helpers/custom-source.js';


describe('closed form V_i = M (D/B)^i', () => {
  const M = 32_768;
  const B = 25_000; // pages per second on the wire
  const D = 10_000; // distinct pages dirtied per second
  const s = runMigration(customSource(sequentialWriter(D, M), config(M, 20e9)), {
    tracker: 'hap',
    p2m: '4k',
    costs: ZERO_COSTS,
    migration: { policy: 'xen', startNs: 2_000_000, bandwidthBytesPerSec: B * PAGE_WIRE },
  });

  it('each live pass sends M (D/B)^i pages, within 1%', () => {
    const live = s.rounds.slice(0, -1);
    expect(live.length).toBe(5);
    live.forEach((r, i) => {
      const expected = M * (D / B) ** i;
      expect(Math.abs(r.pagesSent - expected) / expected).toBeLessThan(0.01);
    });
  });

  it('total time is the sum of the passes plus stop-and-copy, within 1%', () => {
    let t = 0;
    for (let i = 0; i <= 5; i++) t += (M * (D / B) ** i) / B;
    expect(Math.abs(s.totalNs / 1e9 - t) / t).toBeLessThan(0.01);
    expect(s.stopReason).toBe('live pass limit reached (5)');
    expect(s.lostPages).toBe(0);
  });
});

describe('no convergence when D >= B', () => {
  // Memory far larger than what fits the downtime limit, so that re-dirtied
  // pages do not simply overlap the ones still waiting to be sent.
  const M = 65_536;
  const B = 10_000;
  const D = 12_000;
  const src = () => customSource(sequentialWriter(D, M), config(M, 60e9));
  const run = (policy: 'xen' | 'xen-legacy' | 'qemu') =>
    runMigration(src(), { tracker: 'hap', p2m: '4k', costs: ZERO_COSTS, migration: { policy, startNs: 2_000_000, bandwidthBytesPerSec: B * PAGE_WIRE, maxBandwidthBytesPerSec: B * PAGE_WIRE } });

  it('xen ends at its 5-pass limit with a large final copy', () => {
    const s = run('xen');
    expect(s.stopReason).toBe('live pass limit reached (5)');
    expect(s.rounds[s.rounds.length - 1]!.pagesSent).toBeGreaterThan(M / 2);
  });

  it('xen-legacy ends by its own limit (3x memory sent before 29 iterations)', () => {
    const s = run('xen-legacy');
    expect(s.stopReason).toBe('more than 3x memory sent');
    expect(s.rounds.length).toBeLessThan(29);
    expect(s.lostPages).toBe(0);
  });

  it('qemu without auto-converge never switches over', () => {
    // While the guest keeps dirtying: after its events the run stops there (an idle guest would let it converge).
    const s = runMigration(src(), { tracker: 'hap', p2m: '4k', costs: ZERO_COSTS, migration: { policy: 'qemu', startNs: 2_000_000, bandwidthBytesPerSec: B * PAGE_WIRE, maxBandwidthBytesPerSec: B * PAGE_WIRE, afterEnd: 'stop' } });
    expect(s.outcome).toBe('incomplete');
    expect(s.downtimeNs).toBe(0);
    expect(s.dirtySyncCount).toBeGreaterThan(3);
  });
});

describe('each Xen stop condition on its own scenario', () => {
  const M = 8_192;
  const bw = 20_000 * PAGE_WIRE;
  it('xen: a pass with fewer than 50 dirty pages is sent live, then stop-and-copy', () => {
    const s = runMigration(customSource(fixedSetWriter(200, 10), config(M, 20e9)), { tracker: 'hap', p2m: '4k', costs: ZERO_COSTS, migration: { policy: 'xen', startNs: 2e6, bandwidthBytesPerSec: bw } });
    expect(s.stopReason).toBe('a CLEAN reported fewer than 50 dirty pages');
    expect(s.rounds.length).toBe(3); // full pass, the small dirty pass, stop-and-copy
    expect(s.rounds[1]!.pagesSent).toBeLessThan(50);
  });

  it('xen-legacy: fewer than 50 pages sent or skipped in a round', () => {
    const s = runMigration(customSource(fixedSetWriter(200, 10), config(M, 20e9)), { tracker: 'hap', p2m: '4k', costs: ZERO_COSTS, migration: { policy: 'xen-legacy', startNs: 2e6, bandwidthBytesPerSec: bw } });
    expect(s.stopReason).toMatch(/^fewer than 50 pages sent or skipped in a round/);
  });

  it('xen-legacy: 29 iterations when a small hot set keeps every round above 50 pages', () => {
    const s = runMigration(customSource(fixedSetWriter(20_000, 200), config(M, 60e9)), { tracker: 'hap', p2m: '4k', costs: ZERO_COSTS, migration: { policy: 'xen-legacy', startNs: 2e6, bandwidthBytesPerSec: bw } });
    expect(s.stopReason).toBe('iteration limit reached (iter >= 29)');
    expect(s.rounds.length).toBe(30); // 29 live passes and the last iteration
  });

  it('xen-legacy: a page dirtied again before its batch is skipped (PEEK per batch)', () => {
    const s = runMigration(customSource(sequentialWriter(12_000, M), config(M, 60e9)), { tracker: 'hap', p2m: '4k', costs: ZERO_COSTS, migration: { policy: 'xen-legacy', startNs: 2e6, bandwidthBytesPerSec: 10_000 * PAGE_WIRE } });
    expect(s.rounds.some((r) => r.pagesSkipped > 0)).toBe(true);
    expect(s.lostPages).toBe(0);
  });
});

describe('qemu', () => {
  const M = 16_384;
  it('switches over once remaining dirty bytes / measured bandwidth is below the downtime limit, and the final copy runs at link speed', () => {
    const link = 125_000_000;
    const s = runMigration(customSource(fixedSetWriter(4_000, 1_500), config(M, 30e9)), {
      tracker: 'hap',
      p2m: '4k',
      costs: ZERO_COSTS,
      migration: { policy: 'qemu', startNs: 2e6, bandwidthBytesPerSec: link, maxBandwidthBytesPerSec: 32 * 1024 * 1024, downtimeLimitNs: 300e6 },
    });
    expect(s.outcome).toBe('completed');
    const last = s.rounds[s.rounds.length - 1]!;
    // Remaining bytes fit 300 ms at the measured (rate-limited) bandwidth...
    expect(last.pagesSent * 4096).toBeLessThan(0.3 * 32 * 1024 * 1024 * 1.05);
    // ...and the final copy is not rate-limited: it takes bytes / link speed.
    expect(Math.abs(s.downtime.finalPagesNs - (last.bytesSent * 1e9) / link)).toBeLessThan(1000);
    expect(s.dirtySyncCount).toBeGreaterThanOrEqual(3); // setup, threshold syncs, completion
  });

  it('auto-converge throttles 20%, then +10% a step, when dirtying outpaces sending', () => {
    const s = runMigration(customSource(sequentialWriter(30_000, M), config(M, 60e9)), {
      tracker: 'hap',
      p2m: '4k',
      costs: ZERO_COSTS,
      migration: { policy: 'qemu', startNs: 2e6, bandwidthBytesPerSec: 125e6, maxBandwidthBytesPerSec: 10_000 * PAGE_WIRE, autoConverge: true },
    });
    const pcts = s.throttleSteps.map((t) => t.pct);
    expect(pcts.length).toBeGreaterThanOrEqual(2);
    expect(pcts.slice(0, 3)).toEqual([20, 30, 40].slice(0, Math.min(3, pcts.length)));
    expect(s.outcome).toBe('completed');
    expect(s.lostPages).toBe(0);
  });
});
