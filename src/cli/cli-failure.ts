import { dirname } from 'node:path';
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
import { GridError } from '../sweep/grid-file.js';

/** A problem with what the user asked for, reported as one line and exit 2. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}

const USER_ERRORS = [TraceError, UnknownWorkloadError, ParamError, UnitError, ConfigError, UsageError, CostModelError, TrackerPairingError, ImportError, ReplaySourceError, GuestResourceError, FileReplacedError, GridError];

/** The one line to print for an error the user can fix, or undefined for a bug. */
export function userFacingMessage(e: unknown): string | undefined {
  if (USER_ERRORS.some((cls) => e instanceof cls)) return (e as Error).message;
  const code = (e as NodeJS.ErrnoException | undefined)?.code;
  if (code && typeof code === 'string' && /^E[A-Z]+$/.test(code)) return ioErrorMessage(e as NodeJS.ErrnoException);
  return undefined;
}

/** What a file-system error code means, in words. */
const IO_REASONS: Readonly<Record<string, string>> = {
  ENOENT: 'no such file or directory',
  EISDIR: 'is a directory',
  ENOTDIR: 'a part of the path is not a directory',
  EACCES: 'permission denied',
  EPERM: 'operation not permitted',
  EROFS: 'read-only file system',
  ENOSPC: 'no space left on the device',
  EDQUOT: 'disk quota exceeded',
  EEXIST: 'already exists',
  EMFILE: 'too many open files',
  EIO: 'input/output error',
  ENAMETOOLONG: 'file name too long',
};

/**
 * `PATH: cannot write: no such directory 'out' (ENOENT)`: the file, what
 * was being done, why in words, and the code to search for. Errors of the
 * atomic writer already name the file asked for (not its temporary) and
 * say `write`.
 */
function ioErrorMessage(err: NodeJS.ErrnoException): string {
  const code = err.code!;
  const doing = err.syscall === 'write' ? 'cannot write' : err.syscall === 'open' || err.syscall === 'read' ? 'cannot read' : `${err.syscall ?? 'file operation'} failed`;
  const reason = code === 'ENOENT' && err.syscall === 'write' && err.path ? `no such directory '${dirname(err.path)}'` : (IO_REASONS[code] ?? 'file system error');
  return `${err.path ? `${err.path}: ` : ''}${doing}: ${reason} (${code})`;
}
