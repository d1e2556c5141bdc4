// DESIGN section 8 under QEMU's data path: whatever multifd, compression,
// zero-page detection or XBZRLE do to a page's bytes, the destination ends
// with every page current, for every workload and tracker (XBZRLE's deltas
// change what crosses the wire, never which version arrives).
import { describe, expect, it } from 'vitest';
import { guestSource } from '../../src/api/guest-source.js';
import { runMigration } from '../../src/api/run-migration.js';
import type { MigrationOptions } from '../../src/reducers/migration/migration-options.js';
import type { TrackerName } from '../../src/reducers/tracker.js';

const WORKLOADS: [string, Record<string, string>][] = [
  ['hot-set', { rate: '100000' }],
  ['apache', {}],
  ['muncher', { rate: '20000' }],
  ['idle', {}],
];
const TRACKERS: TrackerName[] = ['shadow', 'pml', 'kvm-ring'];
const DATA_PATHS: [string, Partial<MigrationOptions>][] = [
  ['multifd zstd, 3 channels on 1 core, zero detection in the channels', { multifdChannels: 3, multifdCompression: 'zstd', hostCores: 1 }],
  ['multifd zlib, legacy zero detection', { multifdChannels: 2, multifdCompression: 'zlib', zeroPageDetection: 'legacy' }],
  ['XBZRLE with a 1 MiB cache', { xbzrleCacheBytes: 1 << 20 }],
];

describe("QEMU's data path loses no page", () => {
  let deltas = 0;
  for (const [workload, settings] of WORKLOADS) {
    it(`${workload}: every tracker, under multifd (zstd, zlib) and XBZRLE, loses nothing`, () => {
      const source = guestSource(workload, { seed: 5, durationNs: 2e9, memBytes: 128 * 1024 * 1024, settings });
      for (const tracker of TRACKERS) {
        for (const [name, dataPath] of DATA_PATHS) {
          const s = runMigration(source, { tracker, migration: { policy: 'qemu', startNs: 300e6, downtimeLimitNs: 5e6, ...dataPath } });
          expect.soft(s.outcome, `${tracker}, ${name}: ${s.stopReason}`).toBe('completed');
          expect.soft(s.lostPages, `${tracker}, ${name}: lost pages`).toBe(0);
          deltas += s.dataPath?.xbzrle?.pages ?? 0;
        }
      }
    });
  }

  it('the runs above did send XBZRLE deltas (the check covered them)', () => {
    expect(deltas).toBeGreaterThan(0);
  });
});
