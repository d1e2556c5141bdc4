import { statSync } from 'node:fs';
import { join } from 'node:path';

/** The files of a recorded fleet run, in its directory (migsim fleet --record DIR). */
export const FLEET_FILES = { scenario: 'scenario.yaml', result: 'fleet.json', events: 'events.jsonl' } as const;

/** A VM's run trace in the directory: one per migration the orchestrator started. */
export function vmTraceName(vm: string): string {
  return `vm-${vm}.mst`;
}

/** Whether `dir` holds a recorded fleet run. */
export function isFleetRecord(dir: string): boolean {
  // A trace file is no directory: asking for a path beneath it would fail with ENOTDIR.
  if (!(statSync(dir, { throwIfNoEntry: false })?.isDirectory() ?? false)) return false;
  return statSync(join(dir, FLEET_FILES.result), { throwIfNoEntry: false })?.isFile() ?? false;
}
