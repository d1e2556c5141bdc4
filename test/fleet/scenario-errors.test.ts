// Checks that every scenario mistake is an error naming the file and the
// line of the value at fault: YAML syntax, schema issues (units, unknown
// keys, missing fields), plan lines, and an orchestrator's settings.
import { describe, expect, it } from 'vitest';
import { loadScenario, ScenarioError } from '../../src/api/fleet.js';

const BASE = `seed: 1
hosts:
  - { name: a, nic: 10Gbit }
  - { name: b, nic: 10Gbit }
vms:
  - { name: v1, host: a, workload: idle, memory: 64MiB, duration: 1s }
plan:
  - migrate v1 to b at 0s
orchestrator:
  name: kubevirt
  parallelOutboundMigrationsPerNode: 2
`;

function errorOf(text: string): ScenarioError {
  try {
    loadScenario('s.yaml', { text });
  } catch (e) {
    if (e instanceof ScenarioError) return e;
    throw e;
  }
  throw new Error('no error');
}

describe('scenario errors name the line', () => {
  it('the base scenario loads', () => {
    expect(loadScenario('s.yaml', { text: BASE }).migrations).toHaveLength(1);
  });

  it('a bandwidth without a known unit is reported at its line', () => {
    const e = errorOf(BASE.replace('{ name: b, nic: 10Gbit }', '{ name: b, nic: 10Gbs }'));
    expect(e.line).toBe(4);
    expect(e.message).toMatch(/^s\.yaml:4: hosts\.1\.nic: a bandwidth: unknown bandwidth unit/);
  });

  it('an unknown key is reported at its map', () => {
    const e = errorOf(BASE.replace('duration: 1s }', 'duration: 1s, colour: red }'));
    expect(e.line).toBe(6);
    expect(e.message).toContain("unknown key 'colour'");
  });

  it('a plan line naming no host is reported at that line', () => {
    const e = errorOf(BASE.replace('migrate v1 to b at 0s', 'migrate v1 to c at 0s'));
    expect(e.message).toBe("s.yaml:8: no host named 'c' (hosts: a, b)");
  });

  it("an orchestrator's unknown setting is reported at its line", () => {
    const e = errorOf(BASE.replace('parallelOutboundMigrationsPerNode', 'parallelOutboundMigrationPerNode'));
    expect(e.line).toBe(11);
    expect(e.message).toContain("unknown setting 'parallelOutboundMigrationPerNode'");
  });

  it('a workload parameter it does not take is reported at the VM', () => {
    const e = errorOf(BASE.replace('workload: idle,', 'workload: idle, set: { speed: 3 },'));
    expect(e.line).toBe(6);
  });

  it('YAML that does not parse is reported at the line it breaks on', () => {
    const e = errorOf(BASE.replace('plan:\n', 'plan:\n  - [unclosed\n'));
    expect(e.message).toMatch(/^s\.yaml:\d+: not valid YAML/);
  });
});
