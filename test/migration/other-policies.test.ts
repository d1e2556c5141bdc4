// Checks post-copy, checkpoint and Remus: where their downtime goes and that
// the oracle finds the destination equal to the source.
import { describe, expect, it } from 'vitest';
import { runMigration } from '../../src/api/run-migration.js';
import { DEFAULT_COSTS } from '../../src/model/cost-model.js';
import { config, customSource, fixedSetWriter, sequentialWriter } from '../helpers/custom-source.js';

const M = 16_384;
const PAGE_WIRE = 4096 + DEFAULT_COSTS.pageHeaderBytes;

describe('postcopy', () => {
  const s = runMigration(customSource(sequentialWriter(20_000, 4_096), config(M, 5e9)), {
    tracker: 'hap',
    migration: { policy: 'postcopy', startNs: 2e6, bandwidthBytesPerSec: 125e6 },
  });

  it('switches after the first live pass with a downtime free of page data', () => {
    expect(s.stopReason).toBe('switched to post-copy after 1 live pass(es)');
    expect(s.downtime.finalPagesNs).toBe(0);
    expect(s.downtimeNs).toBe(s.downtime.suspendNs + s.downtime.finalCleanNs + s.downtime.stateNs + s.downtime.resumeNs);
  });

  it('each first access to a page not yet received faults, and a request waits at least a round trip plus the page', () => {
    // The detail (queueing behind the background stream, preempt, host pages) is test/migration/postcopy-detail.test.ts.
    expect(s.postcopyFaults).toBeGreaterThan(0);
    expect(s.postcopyRequests).toBeGreaterThan(0);
    const each = DEFAULT_COSTS.postcopyRequestRttNs + Math.ceil((PAGE_WIRE * 1e9) / 125e6);
    expect(s.postcopyFaultStallNs).toBeGreaterThanOrEqual(s.postcopyRequests! * each);
  });

  it('loses nothing and completes once every page is there', () => {
    expect(s.outcome).toBe('completed');
    expect(s.lostPages).toBe(0);
  });
});

describe('checkpoint', () => {
  it('pauses the guest for the whole save: downtime is the total time, every page sent once', () => {
    const s = runMigration(customSource(fixedSetWriter(5_000, 100), config(M, 3e9)), { tracker: 'hap', migration: { policy: 'checkpoint', startNs: 500e6 } });
    expect(s.downtimeNs).toBe(s.totalNs);
    expect(s.pagesSent).toBe(M);
    expect(s.rounds.length).toBe(1);
    expect(s.lostPages).toBe(0);
  });
});

describe('remus', () => {
  it('checkpoints every epoch after the first migration, each pause far shorter than the epoch, losing nothing', () => {
    const s = runMigration(customSource(fixedSetWriter(5_000, 300), config(M, 5e9)), { tracker: 'hap', migration: { policy: 'remus', startNs: 2e6, epochNs: 200e6 } });
    expect(s.outcome).toBe('completed');
    expect(s.epochs.length).toBeGreaterThan(10);
    for (let i = 1; i < s.epochs.length; i++) expect(s.epochs[i]!.atNs - s.epochs[i - 1]!.atNs).toBeGreaterThanOrEqual(200e6);
    for (const e of s.epochs) {
      expect(e.dirtyPages).toBeLessThanOrEqual(300 + 2); // the hot set, and at most a page-table page or two
      expect(e.pauseNs).toBeLessThan(20e6);
    }
    expect(s.lostPages).toBe(0);
  });
});
