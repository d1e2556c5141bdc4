// The switch-over's device side (QEMU migration/migration.c, savevm.c):
// the device state sent while the guest is stopped, in the downtime's
// breakdown; switchover-ack (QEMU 8.1), which holds the stop until the
// destination has loaded the devices' pre-copy data; and
// avail-switchover-bandwidth (QEMU 8.2), which replaces the measured
// bandwidth in the switch-over threshold. The oracle loses no page.
import { describe, expect, it } from 'vitest';
import { type MigrationSummary, runMigration } from '../../src/api/run-migration.js';
import { DEFAULT_COSTS } from '../../src/model/cost-model.js';
import type { MigrationOptions } from '../../src/reducers/migration/migration-options.js';
import { config, customSource, fixedSetWriter } from '../helpers/custom-source.js';

const M = 16_384;
const BW = 125e6;
const wire = (bytes: number, bw = BW) => Math.ceil((bytes * 1e9) / bw);

function run(migration: Partial<MigrationOptions>): MigrationSummary {
  const s = runMigration(customSource(fixedSetWriter(5_000, 200), config(M, 6e9)), { tracker: 'hap', migration: { policy: 'qemu', startNs: 2e6, bandwidthBytesPerSec: BW, ...migration } });
  expect(s.outcome).toBe('completed');
  expect(s.lostPages).toBe(0);
  return s;
}

const suspendAtNs = (s: MigrationSummary) => s.startNs + s.totalNs - s.downtimeNs;

describe('--device-state', () => {
  const plain = run({});
  const big = run({ deviceStateBytes: 16 * 1024 ** 2 });

  it('sets the device state sent while the guest is stopped: its transfer is in the downtime, and is all the downtime gains', () => {
    expect(big.downtime.stateNs).toBe(wire(1 * DEFAULT_COSTS.vcpuStateBytes + 16 * 1024 ** 2));
    expect(big.downtime.deviceStateNs).toBe(wire(16 * 1024 ** 2));
    expect(plain.downtime.deviceStateNs).toBeUndefined();
    expect(big.downtimeNs - plain.downtimeNs).toBe(big.downtime.stateNs - plain.downtime.stateNs);
  });

  it('goes into the downtime bytes', () => {
    expect(big.downtimeBytes - plain.downtimeBytes).toBe(16 * 1024 ** 2 - DEFAULT_COSTS.deviceStateBytes);
  });
});

describe('--switchover-ack', () => {
  const loadNs = 2e9;
  const precopy = 8 * 1024 ** 2;
  const noAck = run({ devicePrecopyBytes: precopy, deviceLoadNs: loadNs });
  const ack = run({ devicePrecopyBytes: precopy, deviceLoadNs: loadNs, switchoverAck: true });
  // The devices' pre-copy data leaves first, within max-bandwidth, then the destination loads it.
  const readyNs = (s: MigrationSummary) => s.startNs + s.setupNs + wire(precopy, Math.min(BW, 128 * 1024 ** 2)) + loadNs;

  it('without it, a switch before the destination has loaded the pre-copy data waits for that load while the guest is stopped', () => {
    expect(suspendAtNs(noAck)).toBeLessThan(readyNs(noAck));
    expect(noAck.downtime.deviceLoadNs).toBeGreaterThan(0);
    const d = noAck.downtime;
    expect(noAck.downtimeNs).toBe(d.suspendNs + d.finalCleanNs + d.finalPagesNs + d.canonicaliseNs + d.stateNs + d.deviceLoadNs! + d.resumeNs);
    expect(suspendAtNs(noAck) + noAck.downtimeNs - DEFAULT_COSTS.resumeNs).toBe(readyNs(noAck));
  });

  it('switchover-ack: the source does not stop until the destination acknowledges the pre-copy data is loaded, and the downtime has no load in it', () => {
    const returnNs = DEFAULT_COSTS.postcopyRequestRttNs - Math.floor(DEFAULT_COSTS.postcopyRequestRttNs / 2);
    expect(suspendAtNs(ack)).toBeGreaterThanOrEqual(readyNs(ack) + returnNs);
    expect(ack.downtime.deviceLoadNs).toBe(0);
    expect(ack.downtimeNs).toBeLessThan(noAck.downtimeNs - 1e9);
  });

  it('without device pre-copy data nothing changes: the destination acknowledges at once', () => {
    const plain = run({});
    const acked = run({ switchoverAck: true });
    expect(acked.downtimeNs).toBe(plain.downtimeNs);
    expect(acked.totalNs).toBe(plain.totalNs);
  });
});

describe('--avail-switchover-bandwidth', () => {
  it('replaces the measured bandwidth in the threshold: threshold = avail-switchover-bandwidth x downtime-limit', () => {
    const s = run({ availSwitchoverBandwidthBytesPerSec: 1e9 });
    // 1 GB/s x 300 ms.
    expect(s.stopReason).toMatch(/\(threshold 300000000 bytes\)$/);
    const measured = run({});
    expect(measured.stopReason).not.toMatch(/\(threshold 300000000 bytes\)$/);
  });

  it('a figure below what the link gives holds the switch back: a guest that stops at once with the measured bandwidth runs on', () => {
    const low = run({ availSwitchoverBandwidthBytesPerSec: 10_000, downtimeLimitNs: 300_000_000 });
    const measured = run({});
    // 10 kB/s x 300 ms = 3,000 bytes: under one page, so only a sync that finds nothing dirty lets it stop.
    expect(low.stopReason).toMatch(/\(threshold 3000 bytes\)$/);
    expect(low.totalNs).toBeGreaterThan(measured.totalNs);
  });
});
