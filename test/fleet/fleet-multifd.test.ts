// Checks who turns QEMU's multifd on in a fleet, as the real orchestrators
// do: KubeVirt's virt-handler asks for 8 parallel migration threads
// (configureParallelMigrationThreads, parallelMultifdMigrationThreads = 8)
// unless the VMI has a CPU limit or post-copy is allowed; Nova asks for
// live_migration_parallel_connections channels when it is above 1; a VM's
// own multifdChannels overrides both (0 turns multifd off), and a VM's
// multifd run in a fleet of one is the same migration as `run` gives it.
import { describe, expect, it } from 'vitest';
import { loadScenario, runScenario, ScenarioError, vmSeed } from '../../src/api/fleet.js';
import { guestSource } from '../../src/api/guest-source.js';
import { runMigration } from '../../src/api/run-migration.js';
import { contentMixOf } from '../../src/api/content-mix-of.js';
import { KUBEVIRT_MULTIFD_THREADS } from '../../src/fleet/controllers/kubevirt-migration-options.js';

function scenario(vm: string, orchestrator: string): string {
  return `seed: 3
hosts:
  - { name: a, nic: 10Gbit }
  - { name: b, nic: 10Gbit }
vms:
  - { name: v1, host: a, workload: idle, memory: 64MiB, duration: 2s${vm} }
plan:
  - migrate v1 to b at 1s
orchestrator: ${orchestrator}
`;
}

/** The multifd channels the VM's migration ran with (0: none), from its summary. */
function channelsOf(vm: string, orchestrator: string): number {
  const r = runScenario(loadScenario('s.yaml', { text: scenario(vm, orchestrator) }));
  expect(r.vms[0]!.outcome).toBe('completed');
  return r.vms[0]!.summary!.dataPath?.multifd?.channels ?? 0;
}

describe('multifd in a fleet', () => {
  it('kubevirt migrates a qemu VM over parallelMultifdMigrationThreads (8) multifd channels', () => {
    expect(KUBEVIRT_MULTIFD_THREADS).toBe(8);
    expect(channelsOf('', 'kubevirt')).toBe(8);
    expect(channelsOf('', 'kubevirt-vep248')).toBe(8);
  });

  it('kubevirt leaves multifd off for a VM with a CPU limit, and when post-copy is allowed', () => {
    expect(channelsOf(', cpuLimit: 2', 'kubevirt')).toBe(0);
    expect(channelsOf('', '{ name: kubevirt, allowPostCopy: true }')).toBe(0);
  });

  it("a VM's own multifdChannels overrides the orchestrator's, and 0 turns multifd off", () => {
    expect(channelsOf(', migration: { multifdChannels: 3 }', 'kubevirt')).toBe(3);
    expect(channelsOf(', migration: { multifdChannels: 0 }', 'kubevirt')).toBe(0);
  });

  it('nova asks for live_migration_parallel_connections channels above 1, none at its default 1', () => {
    expect(channelsOf('', 'nova')).toBe(0);
    expect(channelsOf('', '{ name: nova, live_migration_parallel_connections: 4 }')).toBe(4);
  });

  it("a fleet VM's multifd migration is the one run gives the same guest and options", () => {
    // KubeVirt leaves max-bandwidth unlimited, as run's migration below.
    const s = loadScenario('s.yaml', { text: scenario(', migration: { multifdChannels: 4, multifdCompression: zstd }', 'kubevirt') });
    const vm = runScenario(s).vms[0]!;
    const fleet = vm.summary!;
    const source = guestSource('idle', { seed: vmSeed(s, s.vms[0]!), durationNs: 2e9, memBytes: 64 * 1024 ** 2, vcpus: s.vms[0]!.vcpus, guest: 'hvm', paging: undefined, settings: {} });
    const alone = runMigration(source, {
      tracker: 'hap',
      migration: { policy: 'qemu', startNs: vm.startedAtNs, bandwidthBytesPerSec: 1.25e9, maxBandwidthBytesPerSec: Infinity, multifdChannels: 4, multifdCompression: 'zstd', pageContents: contentMixOf(source.header) },
    });
    expect(fleet.dataPath!.multifd!.channels).toBe(4);
    expect(fleet.dataPath!.multifd!.compression).toBe('zstd');
    expect(fleet.pagesSent).toBe(alone.pagesSent);
    expect(fleet.bytesSent).toBe(alone.bytesSent);
    expect(fleet.totalNs).toBe(alone.totalNs);
    expect(fleet.dataPath).toEqual(alone.dataPath);
  });

  it('a QEMU knob on a VM under another policy, and compression without the VM\'s own multifd, are errors at their line', () => {
    const at = (vm: string): ScenarioError => {
      try {
        loadScenario('s.yaml', { text: scenario(vm, 'none') });
      } catch (e) {
        if (e instanceof ScenarioError) return e;
        throw e;
      }
      throw new Error('no error');
    };
    const xen = at(', migration: { policy: xen, multifdChannels: 2 }');
    expect(xen.line).toBe(6);
    expect(xen.message).toContain("multifdChannels is QEMU's: give the VM policy: qemu");
    const zstd = at(', migration: { multifdCompression: zstd }');
    expect(zstd.message).toContain("multifdCompression needs the VM's own multifd");
  });
});
