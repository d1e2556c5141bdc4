// Checks that a recorded fleet's per-VM run traces are self-contained: a
// 4-VM evacuation under KubeVirt (two at a time, so streams open and close
// under each other's feet and the shares change mid-migration) writes one
// run trace per VM, each of which replays alone, with its recorded shares
// and the controller's calls, to the same run events and summary; the
// directory as a whole verifies without running the fleet again (the
// shares solved again from the traces, events.jsonl and fleet.json rebuilt
// from them). A trace whose recorded share was edited consistently
// (checksums and digest redone) differs, exit 1, and so does an event
// stream whose start time was moved.
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadScenario } from '../../src/api/fleet.js';
import { type FleetVmFooter, recordFleet, vmTraceName } from '../../src/api/record-fleet.js';
import { TraceReader } from '../../src/trace/trace-reader.js';
import { TraceWriter } from '../../src/trace/trace-writer.js';
import { replayFleetVerify } from '../../src/verify/replay-fleet.js';
import { replayFleetVmVerify } from '../../src/verify/replay-fleet-vm.js';
import { runCli } from '../cli/cli-run.js';
import { tempDir } from '../helpers/temp-dir.js';

const dir = tempDir('migsim-fleet-vm-');

const EVACUATION = `seed: 4
hosts:
  - { name: a, nic: 1Gbit }
  - { name: b, nic: 1Gbit }
  - { name: c, nic: 1Gbit }
vms:
  - { name: w1, host: a, workload: muncher, set: { rate: 3000 }, memory: 64MiB, duration: 4s }
  - { name: w2, host: a, workload: muncher, set: { rate: 6000, pattern: random }, memory: 64MiB, duration: 4s }
  - { name: w3, host: a, workload: idle, memory: 96MiB, duration: 4s }
  - { name: w4, host: a, workload: muncher, set: { rate: 2000 }, memory: 48MiB, duration: 4s, migration: { policy: xen } }
plan:
  - evacuate a at 200ms
orchestrator:
  name: kubevirt
  parallelOutboundMigrationsPerNode: 2
`;

/** Rewrites a trace with its footer's fleet record changed by `edit`: a consistent forgery (frames, counts and digest all redone). */
function forge(file: string, edit: (f: FleetVmFooter) => void): void {
  const r = TraceReader.open(file);
  const w = new TraceWriter(file, r.header);
  for (let c = r.nextChunk(); c; c = r.nextChunk()) {
    if (c.stream === 'guest') w.writeGuestBatch(c.batch);
    else w.writeRunBatch(c.batch);
  }
  const run = structuredClone(r.footer.run!) as { summary: unknown; fleet: FleetVmFooter };
  r.close();
  edit(run.fleet);
  w.finish({ workloadStats: r.footer.workloadStats, run });
}

describe("a recorded fleet's per-VM run traces", () => {
  const file = join(dir, 'evac.yaml');
  writeFileSync(file, EVACUATION);
  const out = join(dir, 'rec');
  const result = recordFleet(loadScenario(file), out);

  it('a 4-VM evacuation writes one run trace per VM, and each replays alone to the same events and summary', () => {
    expect(result.vms.map((v) => v.outcome)).toEqual(['completed', 'completed', 'completed', 'completed']);
    expect(readdirSync(out).filter((f) => f.endsWith('.mst')).sort()).toEqual(['w1', 'w2', 'w3', 'w4'].map(vmTraceName));
    for (const v of result.vms) {
      const r = replayFleetVmVerify(join(out, vmTraceName(v.vm)));
      expect(r.firstDifference).toBeUndefined();
      expect(r.identical).toBe(true);
      expect(r.summary).toEqual(v.summary);
    }
  });

  it("a trace records the shares other streams left it: w1's drops when w2 opens beside it and rises when w2 ends", () => {
    const r = TraceReader.open(join(out, vmTraceName('w1')));
    while (r.nextChunk());
    r.close();
    const fleet = r.footer.run!['fleet'] as FleetVmFooter;
    const nic = 1e9 / 8;
    // Opened alone at 200 ms it has the whole NIC; w2 opens at the same
    // nanosecond (the scheduler's tie rule) and max-min gives each half.
    expect(fleet.own[0]).toMatchObject({ call: 'open', atNs: 200e6, bytesPerSec: nic });
    const shares = fleet.inputs.filter((i) => i.op === 'share').map((i) => (i as { bytesPerSec: number }).bytesPerSec);
    expect(shares[0]).toBe(nic / 2);
    expect(fleet.inputs[0]).toMatchObject({ op: 'start', atNs: 200e6, step: 0 });
  });

  it('the directory verifies without running the fleet again: each trace alone, the shares solved again, events and fleet.json rebuilt', () => {
    const v = replayFleetVerify(out);
    expect(v.scenarioProblem).toBeUndefined();
    expect(v.firstDifferentLine).toBe(0);
    expect(v.vms.map((x) => x.identical)).toEqual([true, true, true, true]);
    expect(v.identical).toBe(true);
  });

  it('a trace whose recorded shares were edited differs when replayed alone: exit 1', async () => {
    const copy = join(dir, 'forged');
    recordFleet(loadScenario(file), copy);
    const w1 = join(copy, vmTraceName('w1'));
    // Every share other streams left it, doubled: a share that reached the
    // stream while it had nothing on the wire is replaced by its next own
    // call's (VmMigration's idle streams), so one alone may change nothing.
    forge(w1, (f) => {
      for (const i of f.inputs) if (i.op === 'share') (i as { bytesPerSec: number }).bytesPerSec *= 2;
    });
    const r = replayFleetVmVerify(w1);
    expect(r.identical).toBe(false);
    const alone = await runCli('replay', '--verify', w1);
    expect(alone.code).toBe(1);
    expect(alone.out).toContain('differs');
    const all = await runCli('replay', '--verify', copy);
    expect(all.code).toBe(1);
    expect(all.out).toContain(`${vmTraceName('w1')}: differs`);
    expect(all.out).toContain(`${vmTraceName('w2')}: identical alone`);
  });

  it('an event stream whose start was moved disagrees with the traces: exit 1', async () => {
    const copy = join(dir, 'moved');
    recordFleet(loadScenario(file), copy);
    const events = join(copy, 'events.jsonl');
    writeFileSync(events, readFileSync(events, 'utf8').replace(/"atNs":200000000,"kind":"started","vm":"w2"/, '"atNs":200000001,"kind":"started","vm":"w2"'));
    const all = await runCli('replay', '--verify', copy);
    expect(all.code).toBe(1);
    expect(all.out).toContain("VM 'w2': the event stream says it started at 200000001 ns, its trace at 200000000 ns");
  });
});
