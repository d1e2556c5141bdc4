import type { OrchestratorName } from '../scenario-schema.js';
import { type Controller, ControllerSettingError } from './controller.js';
import { kubevirtController } from './kubevirt.js';
import { kubevirtVep248Controller } from './kubevirt-vep248.js';
import { novaController } from './nova.js';
import { noneController } from './none.js';
import { ovirtController } from './ovirt.js';

/** Each orchestrator and the file that models it. */
const CONTROLLERS: Record<OrchestratorName, ((settings: Readonly<Record<string, unknown>>) => Controller) | undefined> = {
  none: (s) => {
    const keys = Object.keys(s);
    if (keys.length > 0) throw new ControllerSettingError([keys[0]!], `orchestrator 'none' takes no settings, not '${keys[0]}'`);
    return noneController();
  },
  kubevirt: kubevirtController,
  'kubevirt-vep248': kubevirtVep248Controller,
  nova: novaController,
  ovirt: ovirtController,
};

/** The controller a scenario names, over its settings; throws ControllerSettingError for a setting it refuses. */
export function makeController(name: OrchestratorName, settings: Readonly<Record<string, unknown>>): Controller {
  const make = CONTROLLERS[name];
  if (!make) throw new ControllerSettingError([], `orchestrator '${name}' is not modelled yet (use none, kubevirt, kubevirt-vep248, nova or ovirt)`);
  return make(settings);
}
