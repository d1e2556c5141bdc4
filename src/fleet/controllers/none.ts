import type { Controller, FleetHandle } from './controller.js';
import type { PlannedMigration } from '../scenario-file.js';

/**
 * No orchestrator: every migration starts when its plan line says, all at
 * once, each with its VM's own options, and nothing watches them (as a
 * script of `virsh migrate` calls would).
 */
export function noneController(): Controller {
  return {
    name: 'none',
    nextPollNs: Infinity,
    request(m: PlannedMigration, fleet: FleetHandle) {
      fleet.start(m, {});
    },
    poll() {},
    started() {},
    ended() {},
  };
}
