import { ConfigError } from '../model/guest-config.js';
import { UnitError } from '../model/units.js';
import { CostModelError } from '../model/cost-model.js';
import { TrackerPairingError } from '../reducers/make-tracker.js';
import { TraceError } from '../trace/trace-error.js';
import { UnknownWorkloadError } from '../workloads/registry.js';
import { ParamError } from '../workloads/resolve-params.js';
import { ImportError } from '../import/import-error.js';
import { ReplaySourceError } from '../verify/replay-import.js';
import { GuestResourceError } from '../workloads/guest-resource-error.js';
import { FileReplacedError } from '../util/atomic-write.js';
import { describeIoError, isIoError } from '../util/io-error.js';
import { ScenarioError } from '../fleet/scenario-error.js';
import { GridError } from '../sweep/grid-file.js';

import { UsageError } from './usage-error.js';
import { MemoryLimitError } from './memory-guard.js';

export { UsageError };

const USER_ERRORS = [TraceError, UnknownWorkloadError, ParamError, UnitError, ConfigError, UsageError, CostModelError, TrackerPairingError, ImportError, ReplaySourceError, GuestResourceError, FileReplacedError, ScenarioError, GridError, MemoryLimitError];

/** The one line to print for an error the user can fix, or undefined for a bug. */
export function userFacingMessage(e: unknown): string | undefined {
  if (USER_ERRORS.some((cls) => e instanceof cls)) return (e as Error).message;
  if (isIoError(e)) return describeIoError(e);
  return undefined;
}
