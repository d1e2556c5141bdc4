// Checks that a fleet's VMs send what their pages hold as `run` does: each
// VM's policy gets its workload's page-content mix (content-mix-of.ts), so a
// QEMU migration of an apache guest in a fleet sends the zero pages a single
// `run` of it would, instead of treating every written page as opaque.
import { describe, expect, it } from 'vitest';
import { loadScenario, runScenario } from '../../src/api/fleet.js';
import { WORKLOADS } from '../../src/workloads/registry.js';

const SCENARIO = `seed: 5
hosts:
  - { name: a, nic: 10Gbit }
  - { name: b, nic: 10Gbit }
vms:
  - { name: web, host: a, workload: apache, memory: 256MiB, duration: 4s, migration: { policy: qemu } }
plan:
  - migrate web to b at 2s
`;

describe('page contents in a fleet', () => {
  it("a fleet VM's migration uses its workload's page-content mix, as run does", () => {
    const r = runScenario(loadScenario('contents.yaml', { text: SCENARIO }));
    const vm = r.vms[0]!;
    expect(vm.outcome).toBe('completed');
    const apacheMix = WORKLOADS.find((w) => w.name === 'apache')!.pageContents!({});
    const used = vm.summary!.dataPath!.pageContents;
    expect(used.zero).toBe(apacheMix.zero);
    expect(used.compressible).toBe(apacheMix.compressible);
    expect(used.ratio).toBe(apacheMix.ratio);
    expect(used.zero).toBeGreaterThan(0);
  });
});
