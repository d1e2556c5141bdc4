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

/** A problem with what the user asked for, reported as one line and exit 2. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}

const USER_ERRORS = [TraceError, UnknownWorkloadError, ParamError, UnitError, ConfigError, UsageError, CostModelError, TrackerPairingError, ImportError, ReplaySourceError, GuestResourceError];

/** The one line to print for an error the user can fix, or undefined for a bug. */
export function userFacingMessage(e: unknown): string | undefined {
  if (USER_ERRORS.some((cls) => e instanceof cls)) return (e as Error).message;
  const code = (e as NodeJS.ErrnoException | undefined)?.code;
  if (code && typeof code === 'string' && /^E[A-Z]+$/.test(code)) {
    const err = e as NodeJS.ErrnoException;
    return `${err.path ?? ''}${err.path ? ': ' : ''}${err.syscall ?? 'file'} failed (${code})`;
  }
  return undefined;
}
