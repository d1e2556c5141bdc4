// Checks `migsim fleet` and `migsim evacuate` as a script sees them: the
// table and JSON, exit codes (0 all completed, 3 one aborted, 2 a bad
// scenario with its line), --record DIR and replay --verify DIR (the same
// bytes again; a changed record is a difference, exit 1), and a progress
// bar on a terminal only.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { BAR_CLEARED, runCli, runCliAt } from './cli-run.js';

const dir = mkdtempSync(join(tmpdir(), 'migsim-fleet-cli-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const SMALL = `seed: 2
hosts:
  - { name: a, nic: 1Gbit }
  - { name: b, nic: 1Gbit }
  - { name: c, nic: 1Gbit, memory: 100MiB }
vms:
  - { name: x, host: a, workload: idle, memory: 64MiB, duration: 2s }
  - { name: y, host: a, workload: muncher, set: { rate: 2000 }, memory: 64MiB, duration: 2s }
plan:
  - migrate x to b at 100ms
  - migrate y to b at 100ms
orchestrator: kubevirt
`;

describe('migsim fleet', () => {
  const file = join(dir, 'small.yaml');
  writeFileSync(file, SMALL);

  it('prints each VM, the makespan, the links and the events; exit 0 when all completed', async () => {
    const r = await runCli('fleet', file);
    expect(r.code).toBe(0);
    expect(r.out).toContain('2 migration(s) under kubevirt, seed 2');
    expect(r.out).toMatch(/│ x +│ a +│ b +│ completed/);
    expect(r.out).toContain('makespan (first request to last end):');
    expect(r.out).toMatch(/a out: .* of 119\.21 MiB\/s/);
  });

  it('--json gives each VM with its summary, the links and the events', async () => {
    const r = await runCli('fleet', file, '--json');
    const j = JSON.parse(r.out) as { vms: { vm: string; outcome: string; summary: { policy: string } }[]; events: { kind: string }[]; makespanNs: number };
    expect(j.vms.map((v) => [v.vm, v.outcome, v.summary.policy])).toEqual([
      ['x', 'completed', 'qemu'],
      ['y', 'completed', 'qemu'],
    ]);
    expect(j.events.filter((e) => e.kind === 'started')).toHaveLength(2);
    expect(j.makespanNs).toBeGreaterThan(0);
  });

  it('exit 3 when the controller aborted a migration, with the reason printed', async () => {
    const r = await runCli('fleet', 'scenarios/no-converge.yaml');
    expect(r.code).toBe(3);
    expect(r.out).toContain('hot: aborted: Live migration is not completed after 20 seconds and has been aborted');
  });

  it('exit 2 and the line for a bad scenario, nothing on stdout', async () => {
    const bad = join(dir, 'bad.yaml');
    writeFileSync(bad, SMALL.replace('duration: 2s }\nplan', 'duration: 2z }\nplan'));
    const r = await runCli('fleet', bad);
    expect(r.code).toBe(2);
    expect(r.out).toBe('');
    expect(r.err).toMatch(new RegExp(`^migsim: ${bad.replace(/[.]/g, '\\.')}:8: vms\\.1\\.duration: a duration: unknown duration unit 'z'`));
  });

  it('--record DIR replays identically with replay --verify, and a changed record differs', async () => {
    const out = join(dir, 'rec');
    const r = await runCli('fleet', file, '--record', out);
    expect(r.code).toBe(0);
    const v = await runCli('replay', '--verify', out);
    expect(v.code).toBe(0);
    expect(v.out).toContain('identical');
    const events = readFileSync(join(out, 'events.jsonl'), 'utf8').trim().split('\n');
    expect(JSON.parse(events[0]!)).toMatchObject({ kind: 'requested', vm: 'x' });
    const result = join(out, 'fleet.json');
    writeFileSync(result, readFileSync(result, 'utf8').replace('"makespanNs": ', '"makespanNs": 1'));
    const d = await runCli('replay', '--verify', out);
    expect(d.code).toBe(1);
    expect(d.out).toContain('differs at line');
  });

  it('report --fleet DIR draws the Gantt, the remaining bytes against the budget and the link use of a recorded fleet', async () => {
    const out = join(dir, 'rec-report');
    expect((await runCli('fleet', file, '--record', out)).code).toBe(0);
    const html = join(dir, 'fleet.html');
    const r = await runCli('report', '--fleet', out, '-o', html);
    expect(r.code).toBe(0);
    const page = readFileSync(html, 'utf8');
    expect(page).toContain('<figure data-chart="gantt">');
    expect(page).toContain('<figure data-chart="links">');
    expect(page).toContain('<figure data-chart="remaining">');
    expect(page.match(/<svg/g)).toHaveLength(3);
    expect(page).toContain('a → b: x');
    const bad = await runCli('report', '--fleet', dir, '-o', html);
    expect(bad.code).toBe(2);
  });

  it('a progress bar on a terminal, none on a pipe', async () => {
    const t = await runCliAt('terminal', 'fleet', file);
    expect(t.err).toContain(BAR_CLEARED);
    const p = await runCliAt('pipe', 'fleet', file);
    expect(p.err).toBe('');
  });
});

describe('migsim evacuate', () => {
  it("drains a host under the scenario's orchestrator, to any host with room", async () => {
    const file = join(dir, 'evac.yaml');
    writeFileSync(file, SMALL);
    const r = await runCli('evacuate', 'a', '--scenario', file, '--json');
    expect(r.code).toBe(0);
    const j = JSON.parse(r.out) as { vms: { vm: string; to: string }[] };
    // c has room for one 64 MiB guest only; b has no limit: most memory free first (b), then b again.
    expect(j.vms.map((v) => [v.vm, v.to])).toEqual([
      ['x', 'b'],
      ['y', 'b'],
    ]);
    const only = await runCli('evacuate', 'a', '--scenario', file, '--to', 'c', '--json');
    expect(only.code).toBe(2);
    expect(only.err).toContain("no host has room for VM 'y' from 'a'");
  });
});
