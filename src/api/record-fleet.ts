import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { PROGRAM_VERSION } from '../version.js';
import { writeFileAtomic } from '../util/atomic-write.js';
import type { Scenario } from '../fleet/scenario-file.js';
import { type FleetResult, type FleetRunHooks, loadScenario, runScenario } from './fleet.js';

import { FLEET_FILES } from '../fleet/fleet-record-dir.js';

export { FLEET_FILES, isFleetRecord } from '../fleet/fleet-record-dir.js';

/**
 * The recorded form of a fleet run: the program, the plan given on the
 * command line (if any), the result (each VM's outcome and full summary,
 * the controller's decisions, every change of the links' shares). Written
 * with sorted-free, fixed key order by JSON.stringify of one object built
 * the same way every time, so the same scenario and seed give the same
 * bytes.
 */
export function fleetRecord(result: FleetResult, plan: readonly string[] | undefined): string {
  return JSON.stringify({ program: { name: 'migsim', version: PROGRAM_VERSION }, ...(plan ? { plan } : {}), result }, null, 1) + '\n';
}

/**
 * Runs a scenario and records it in `dir`: the scenario's text as read,
 * the result (fleet.json) and the scenario's own event stream, one JSON
 * object a line (events.jsonl: requested, queued, started, the
 * controller's decisions, completed, aborted). Each file is written
 * atomically; `migsim replay --verify DIR` runs the scenario again and
 * compares.
 */
export function recordFleet(scenario: Scenario, dir: string, hooks: FleetRunHooks & { plan?: readonly string[] } = {}): FleetResult {
  const text = readFileSync(scenario.file, 'utf8');
  const result = runScenario(scenario, hooks);
  mkdirSync(dir, { recursive: true });
  writeFileAtomic(join(dir, FLEET_FILES.scenario), text);
  writeFileAtomic(join(dir, FLEET_FILES.events), result.events.map((e) => JSON.stringify(e)).join('\n') + '\n');
  writeFileAtomic(join(dir, FLEET_FILES.result), fleetRecord(result, hooks.plan));
  return result;
}

export interface FleetVerify {
  readonly dir: string;
  readonly identical: boolean;
  /** The first line of fleet.json that differs (1-based), or 0. */
  readonly firstDifferentLine: number;
  readonly recorded?: string;
  readonly regenerated?: string;
}

/** Runs a recorded scenario again (its own text, its recorded plan) and compares the result byte for byte. */
export function replayFleetVerify(dir: string, hooks: FleetRunHooks = {}): FleetVerify {
  const recorded = readFileSync(join(dir, FLEET_FILES.result), 'utf8');
  const plan = (JSON.parse(recorded) as { plan?: string[] }).plan;
  const file = join(dir, FLEET_FILES.scenario);
  const scenario = loadScenario(file, { plan });
  const regenerated = fleetRecord(runScenario(scenario, hooks), plan);
  if (regenerated === recorded) return { dir, identical: true, firstDifferentLine: 0 };
  const a = recorded.split('\n');
  const b = regenerated.split('\n');
  let i = 0;
  while (i < a.length && a[i] === b[i]) i++;
  return { dir, identical: false, firstDifferentLine: i + 1, recorded: a[i], regenerated: b[i] };
}
