// Checks that a CR3 write exits under shadow paging for an HVM guest (one
// cr3_exit per cr3_load, charged to that vCPU), and not under HAP, where
// the hardware loads CR3 itself, nor for a PV guest (a hypercall either way).
import { describe, expect, it } from 'vitest';
import { guestSource } from '../../src/api/guest-source.js';
import { runRounds } from '../../src/api/run-rounds.js';
import { inspect } from '../../src/api/inspect.js';
import { record } from '../../src/api/record.js';
import { join } from 'node:path';
import { tempDir } from '../helpers/temp-dir.js';

const dir = tempDir();

describe('CR3 loads under shadow paging', () => {
  it('an HVM guest takes one cr3_exit per cr3_load under shadow and none under hap', () => {
    const file = join(dir, 'apache.mst');
    record({ workload: 'apache', seed: 2, out: file, durationNs: 1e9, memBytes: 256 * 1024 * 1024 });
    const loads = inspect(file).guestEventsByKind['cr3_load']!;
    expect(loads).toBeGreaterThan(100);
    const source = guestSource(file, { seed: 2 }); // a trace file: the workload options are not used
    const shadow = runRounds(source, { tracker: 'shadow' });
    expect(shadow.exits['cr3_exit']!.count).toBe(loads);
    const hap = runRounds(source, { tracker: 'hap' });
    expect(hap.exits['cr3_exit']).toBeUndefined();
  });

  it('a PV guest under shadow takes no cr3_exit', () => {
    const source = guestSource('apache', { seed: 2, durationNs: 1e9, memBytes: 256 * 1024 * 1024, guest: 'pv', paging: 'pae' });
    expect(runRounds(source, { tracker: 'shadow' }).exits['cr3_exit']).toBeUndefined();
  });
});
