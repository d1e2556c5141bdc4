// Checks that a fleet run is a pure function of its scenario: the same
// scenario and seed give byte-identical records, and a 16-VM scenario's
// per-VM results do not depend on the VMs' order in the file when no two
// actions fall on the same nanosecond (the tie rule is the only place
// where the order counts).
import { describe, expect, it } from 'vitest';
import { loadScenario, runScenario } from '../../src/api/fleet.js';
import { fleetRecord } from '../../src/api/record-fleet.js';

const HOSTS = ['h0', 'h1', 'h2', 'h3'];

function sixteen(reversed: boolean): string {
  const vms: string[] = [];
  const plan: string[] = [];
  for (let i = 0; i < 16; i++) {
    const from = HOSTS[i % 4]!;
    const to = HOSTS[(i + 1) % 4]!;
    const workload = i % 3 === 0 ? 'idle' : `muncher, set: { rate: ${5000 + 1000 * i}, pattern: random }`;
    vms.push(`  - { name: v${i}, host: ${from}, workload: ${workload}, memory: 64MiB, duration: 3s, migration: { policy: ${i % 2 ? 'qemu' : 'xen'} } }`);
    // Distinct request times (prime steps), so no two VMs act at the same nanosecond by construction.
    plan.push(`  - migrate v${i} to ${to} at ${100 + 37 * i}ms`);
  }
  if (reversed) vms.reverse();
  return `seed: 11
hosts:
${HOSTS.map((h) => `  - { name: ${h}, nic: 1Gbit }`).join('\n')}
vms:
${vms.join('\n')}
plan:
${plan.join('\n')}
`;
}

describe('fleet determinism', () => {
  it('the same scenario and seed give byte-identical records', () => {
    const text = sixteen(false);
    const a = fleetRecord(runScenario(loadScenario('d.yaml', { text })), undefined);
    const b = fleetRecord(runScenario(loadScenario('d.yaml', { text })), undefined);
    expect(a).toBe(b);
  });

  it("a 16-VM scenario's per-VM results do not depend on the VMs' order in the file", () => {
    const forward = runScenario(loadScenario('f.yaml', { text: sixteen(false) }));
    const backward = runScenario(loadScenario('b.yaml', { text: sixteen(true) }));
    const byName = (r: typeof forward) => Object.fromEntries(r.vms.map((v) => [v.vm, JSON.stringify(v)]));
    expect(byName(backward)).toEqual(byName(forward));
    expect(backward.makespanNs).toBe(forward.makespanNs);
    // The streams really shared: two migrations out of one host overlapped in time.
    const overlap = forward.vms.some((a) => forward.vms.some((b) => a !== b && a.from === b.from && a.startedAtNs < b.endedAtNs && b.startedAtNs < a.endedAtNs));
    expect(overlap).toBe(true);
  });
});
