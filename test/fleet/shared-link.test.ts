// Checks fleets against max-min sharing's closed forms: two identical
// muncher VMs migrating at once over one 1 Gbit path each get half of it
// and take the time their pages need at half the rate; a VM capped by its
// own max-bandwidth leaves the rest of the link to the other; a share that
// changes while a batch is on the wire applies from that instant.
import { describe, expect, it } from 'vitest';
import { loadScenario, runScenario } from '../../src/api/fleet.js';
import { DEFAULT_COSTS } from '../../src/model/cost-model.js';
import { guestSource } from '../../src/api/guest-source.js';
import { runMigration } from '../../src/api/run-migration.js';
import { contentMixOf } from '../../src/api/content-mix-of.js';
import { vmSeed } from '../../src/api/fleet.js';
import { DEFAULT_MIGRATION } from '../../src/reducers/migration/migration-options.js';

const LINK_BYTES_PER_SEC = 125_000_000; // 1 Gbit
const PAGE_WIRE_BYTES = 4096 + DEFAULT_COSTS.pageHeaderBytes;
const MEM_PAGES = 65_536; // 256 MiB
const WSS_PAGES = 1024; // 4 MiB

function scenario(vms: string, plan: string): string {
  return `seed: 3
hosts:
  - { name: a, nic: 1Gbit }
  - { name: b, nic: 1Gbit }
vms:
${vms}
plan:
${plan}
`;
}

const muncher = (name: string) =>
  `  - { name: ${name}, host: a, workload: muncher, set: { rate: 20000, wss: ${WSS_PAGES * 4096} }, memory: 256MiB, duration: 15s, migration: { policy: xen } }`;

/**
 * A QEMU stream capped at 20 MiB/s from a writer of every page (no zero
 * pages QEMU would send as flags), slow enough to converge, and an idle Xen
 * guest migrating beside it from the same host at the same moment.
 */
const CAP_BYTES_PER_SEC = 20 * 1024 * 1024;
const CAPPED_BESIDE_FREE = scenario(
  [
    `  - { name: capped, host: a, workload: muncher, set: { rate: 1000 }, memory: 256MiB, duration: 20s, migration: { policy: qemu, maxBandwidth: 20MiB/s } }`,
    `  - { name: free, host: a, workload: idle, memory: 256MiB, duration: 20s, migration: { policy: xen } }`,
  ].join('\n'),
  '  - migrate capped to b at 1s\n  - migrate free to b at 1s',
);

describe('migrations sharing a link', () => {
  it('two identical muncher VMs each get half the link and finish as max-min sharing predicts', () => {
    const r = runScenario(loadScenario('two.yaml', { text: scenario(`${muncher('m1')}\n${muncher('m2')}`, '  - migrate m1 to b at 1s\n  - migrate m2 to b at 1s') }));
    const alone = runScenario(loadScenario('one.yaml', { text: scenario(muncher('m1'), '  - migrate m1 to b at 1s') }));
    // Xen v2 over a muncher whose 4 MiB working set is rewritten within
    // every pass: the full pass, four passes of the working set, then
    // stop-and-copy of the working set (SPP_MAX_ITERATIONS = 5), all at
    // half the link, plus the suspend, state and resume of the downtime.
    const pages = MEM_PAGES + 5 * WSS_PAGES;
    const stateBytes = 2 * DEFAULT_COSTS.vcpuStateBytes + DEFAULT_COSTS.deviceStateBytes;
    const closedNs = ((pages * PAGE_WIRE_BYTES + stateBytes) / (LINK_BYTES_PER_SEC / 2)) * 1e9 + DEFAULT_COSTS.suspendNs + DEFAULT_COSTS.resumeNs;
    for (const v of r.vms) {
      expect(v.outcome).toBe('completed');
      // The guest kernel's own timer ticks dirty a few pages beyond the working set.
      expect(v.summary!.pagesSent - pages).toBeGreaterThanOrEqual(0);
      expect(v.summary!.pagesSent - pages).toBeLessThan(pages / 1000);
      expect(Math.abs(v.totalNs - closedNs) / closedNs).toBeLessThan(0.01);
    }
    // Alone, the same VM has the whole link: its full pass takes half as
    // long (its later passes are shorter still: the muncher rewrites less
    // of its working set within them), and it finishes sooner.
    const passNs = (v: (typeof r.vms)[number]) => v.summary!.rounds[0]!.endNs - v.summary!.rounds[0]!.startNs;
    const fullPassAloneNs = ((MEM_PAGES * PAGE_WIRE_BYTES) / LINK_BYTES_PER_SEC) * 1e9;
    expect(Math.abs(passNs(alone.vms[0]!) - fullPassAloneNs) / fullPassAloneNs).toBeLessThan(0.01);
    expect(Math.abs(passNs(r.vms[0]!) - 2 * fullPassAloneNs) / (2 * fullPassAloneNs)).toBeLessThan(0.01);
    expect(alone.vms[0]!.totalNs).toBeLessThan(r.vms[0]!.totalNs);
    expect(r.peaks.find((p) => p.link === 'b in')!.peakBytesPerSec).toBe(LINK_BYTES_PER_SEC);
  });

  it('a stream capped by its own max-bandwidth leaves its unused share to the other', () => {
    const r = runScenario(loadScenario('cap.yaml', { text: CAPPED_BESIDE_FREE }));
    const free = r.vms.find((v) => v.vm === 'free')!;
    // The idle guest dirties a handful of pages: Xen sends memory once and
    // stops after its second pass; its first pass is M pages at what the
    // capped QEMU stream leaves (SimGrid's bounded variable), not at half.
    const firstPassNs = free.summary!.rounds[0]!.endNs - free.summary!.rounds[0]!.startNs;
    const expectedNs = ((MEM_PAGES * PAGE_WIRE_BYTES) / (LINK_BYTES_PER_SEC - CAP_BYTES_PER_SEC)) * 1e9;
    expect(Math.abs(firstPassNs - expectedNs) / expectedNs).toBeLessThan(0.01);
    expect(r.vms.find((v) => v.vm === 'capped')!.outcome).toBe('completed');
  });

  it("a capped QEMU migration shorter than a rate-limit window is the one run gives: the stream bursts, then leaves the link while it waits", () => {
    // QEMU's default max-bandwidth (128 MiB/s) is a budget per 100 ms
    // window (migration_rate_limit): an idle 64 MiB guest's first pass
    // writes its budget at link speed, then waits for the next window. A
    // stream capped at max-bandwidth as a rate took 41 ms for the pass that
    // a run sends in 4.4 ms.
    const text = `seed: 3
hosts:
  - { name: a, nic: 10Gbit }
  - { name: b, nic: 10Gbit }
vms:
  - { name: v1, host: a, workload: idle, memory: 64MiB, duration: 2s, migration: { policy: qemu } }
plan:
  - migrate v1 to b at 1s
`;
    const s = loadScenario('burst.yaml', { text });
    const vm = runScenario(s).vms[0]!;
    expect(vm.outcome).toBe('completed');
    const source = guestSource('idle', { seed: vmSeed(s, s.vms[0]!), durationNs: 2e9, memBytes: 64 * 1024 ** 2, vcpus: s.vms[0]!.vcpus, guest: 'hvm', paging: undefined, settings: {} });
    const alone = runMigration(source, {
      tracker: 'hap',
      migration: { policy: 'qemu', startNs: vm.startedAtNs, bandwidthBytesPerSec: 1.25e9, maxBandwidthBytesPerSec: DEFAULT_MIGRATION.maxBandwidthBytesPerSec, pageContents: contentMixOf(source.header) },
    });
    const fleet = vm.summary!;
    expect(fleet.rounds.length).toBe(alone.rounds.length);
    expect(fleet.rounds[0]!.endNs - fleet.rounds[0]!.startNs).toBe(alone.rounds[0]!.endNs - alone.rounds[0]!.startNs);
    expect(fleet.bytesSent).toBe(alone.bytesSent);
    expect(fleet.totalNs).toBe(alone.totalNs);
    expect(fleet.downtimeNs).toBe(alone.downtimeNs);
  });

  it('a stream waiting out its rate limit leaves the link to another: the other sends at the whole link meanwhile', () => {
    // A QEMU stream capped at 20 MiB/s spends its 2 MiB budget of each
    // 100 ms window at its share of the link and then waits; an idle Xen
    // guest migrating beside it gets the whole link while it waits and half
    // while it bursts. Per window the Xen stream moves the link's bytes less
    // the capped stream's budget, the same average as a stream held at
    // 20 MiB/s would leave it, but the capped stream's own bursts go at
    // half the link, not at 20 MiB/s.
    const r = runScenario(loadScenario('burst2.yaml', { text: CAPPED_BESIDE_FREE }));
    const free = r.vms.find((v) => v.vm === 'free')!;
    expect(free.outcome).toBe('completed');
    // While both are under way, the shares change at every burst and every
    // wait: at least twice per 100 ms window (a stream held at 20 MiB/s
    // changed them only when a stream opened or closed).
    const bothLive = r.linkUse.changes.filter((c) => c.atNs > 1e9 && c.atNs < free.endedAtNs);
    const windows = Math.floor((free.endedAtNs - 1e9) / 100e6);
    expect(windows).toBeGreaterThan(5);
    expect(bothLive.length).toBeGreaterThanOrEqual(2 * (windows - 1));
    expect(r.vms.find((v) => v.vm === 'capped')!.outcome).toBe('completed');
    // The capped stream's bytes per window never exceed its budget (its average rate stays its max-bandwidth).
    const capped = r.vms.find((v) => v.vm === 'capped')!;
    const liveNs = capped.summary!.rounds[capped.summary!.rounds.length - 1]!.endNs - capped.startedAtNs;
    expect(capped.summary!.bytesSent).toBeLessThanOrEqual(Math.ceil(liveNs / 100e6) * CAP_BYTES_PER_SEC * 0.1 + 8 * 1024 * 1024);
  });

  it('a share that changes while a batch is on the wire applies from that instant, not from the next batch', () => {
    // Two idle guests under Xen (one full pass each, nothing dirtied): the
    // first starts at 1 s and has the link alone until the second's stream
    // opens at 1.05 s, inside its second batch of 1024 pages (a batch takes
    // 1024 x 4104 B / 125 MB/s = 33.6 ms), and sends its own first batch
    // a few microseconds later. From then on each has half. The
    // first pass ends where its bytes at full rate until 1.05 s plus the
    // rest at half the rate put it; taking the new share only from the next
    // batch ended it about 17 ms early.
    const idle = (name: string) => `  - { name: ${name}, host: a, workload: idle, memory: 256MiB, duration: 20s, migration: { policy: xen } }`;
    const r = runScenario(loadScenario('late.yaml', { text: scenario(`${idle('first')}\n${idle('second')}`, '  - migrate first to b at 1s\n  - migrate second to b at 1050ms') }));
    const alone = runScenario(loadScenario('alone.yaml', { text: scenario(idle('first'), '  - migrate first to b at 1s') }));
    const round = r.vms.find((v) => v.vm === 'first')!.summary!.rounds[0]!;
    const aloneRound = alone.vms[0]!.summary!.rounds[0]!;
    const wireAloneNs = ((MEM_PAGES * PAGE_WIRE_BYTES) / LINK_BYTES_PER_SEC) * 1e9;
    // The pass begins with the toolstack's walk of its bitmap (bitmap-walk.ts),
    // before the change; its other costs (alone, the pass minus its wire
    // time) do not depend on the share.
    const walkNs = Math.ceil(MEM_PAGES / 64) * DEFAULT_COSTS.syncScanPerWordNs;
    const otherNs = aloneRound.endNs - aloneRound.startNs - wireAloneNs - walkNs;
    // The second stream holds no share until its first batch goes: before
    // it, its toolstack enables log-dirty and walks its bitmap, sending
    // nothing (an idle stream leaves the link to the others), as long as
    // the first's did alone.
    const shareChangeNs = 1_050_000_000 + (aloneRound.startNs - alone.vms[0]!.startedAtNs) + walkNs;
    const aloneBytes = ((shareChangeNs - round.startNs - walkNs) * LINK_BYTES_PER_SEC) / 1e9;
    const expectedEndNs = shareChangeNs + ((MEM_PAGES * PAGE_WIRE_BYTES - aloneBytes) / (LINK_BYTES_PER_SEC / 2)) * 1e9 + otherNs;
    expect(round.pagesSent).toBe(MEM_PAGES);
    // Each batch's wire time is rounded up to a whole ns: a few hundred batches.
    expect(Math.abs(round.endNs - expectedEndNs)).toBeLessThan(1_000);
  });
});
