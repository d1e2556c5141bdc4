import { dirname } from 'node:path';

/**
 * File-system errors as a user reads them: which file, what was being done,
 * why in words, the code to search for, and what to do. Node's errors of a
 * read or write on an open descriptor name no file (`EIO: i/o error, read`),
 * so whoever reads or writes by descriptor gives the error its path with
 * `withPath` before letting it go.
 */

/** An errno error, given the path it concerns (and what was being done) when it names none. */
export function withPath(e: unknown, path: string, syscall?: 'read' | 'write'): unknown {
  const err = e as NodeJS.ErrnoException;
  if (err && typeof err === 'object' && typeof err.code === 'string') {
    if (err.path === undefined) err.path = path;
    if (syscall) err.syscall = syscall;
  }
  return e;
}

/** Whether `e` is an error of the file system (an errno code), not a bug. */
export function isIoError(e: unknown): e is NodeJS.ErrnoException {
  const code = (e as NodeJS.ErrnoException | undefined)?.code;
  return typeof code === 'string' && /^E[A-Z]+$/.test(code);
}

/** What a code means, in words, and what a user can do about it. */
const WORDS: Readonly<Record<string, { reason: string; todo: string }>> = {
  ENOENT: { reason: 'no such file or directory', todo: 'check the path' },
  EISDIR: { reason: 'is a directory', todo: 'give a file name' },
  ENOTDIR: { reason: 'a part of the path is not a directory', todo: 'check the path' },
  EACCES: { reason: 'permission denied', todo: 'check its permissions (and its directory\'s), or use another path' },
  EPERM: { reason: 'operation not permitted', todo: 'check its permissions (and its directory\'s), or use another path' },
  EROFS: { reason: 'read-only file system', todo: 'write to another file system' },
  ENOSPC: { reason: 'no space left on the device', todo: 'free space there, or write to another file system' },
  EDQUOT: { reason: 'disk quota exceeded', todo: 'free space within your quota, or write elsewhere' },
  EFBIG: { reason: 'file too large for the file system', todo: 'write to another file system' },
  EEXIST: { reason: 'already exists', todo: 'remove it, or use another path' },
  EMFILE: { reason: 'too many open files', todo: 'raise the limit (ulimit -n) or close other programs' },
  ENFILE: { reason: 'too many open files on the system', todo: 'close other programs and run again' },
  EIO: { reason: 'input/output error', todo: 'the device failed to read or write: check it (dmesg), or copy the file to a sound disk and run again' },
  ENAMETOOLONG: { reason: 'file name too long', todo: 'use a shorter name' },
  ELOOP: { reason: 'too many symbolic links', todo: 'check the path' },
  ENXIO: { reason: 'no such device', todo: 'give a regular file' },
  ETIMEDOUT: { reason: 'timed out', todo: 'check the network file system and run again' },
  ESTALE: { reason: 'stale network file handle', todo: 'remount the file system and run again' },
};

/**
 * `PATH: cannot write: no space left on the device (ENOSPC): free space
 * there, or write to another file system`: one line.
 */
export function describeIoError(err: NodeJS.ErrnoException): string {
  const code = err.code!;
  const writing = err.syscall === 'write' || err.syscall === 'fsync' || err.syscall === 'rename';
  const doing = writing ? 'cannot write' : err.syscall === 'open' || err.syscall === 'read' ? 'cannot read' : `${err.syscall ?? 'file operation'} failed`;
  const words = WORDS[code];
  const noDir = code === 'ENOENT' && writing && err.path;
  const reason = noDir ? `no such directory '${dirname(err.path!)}'` : (words?.reason ?? 'file system error');
  const todo = noDir ? 'create it, or write elsewhere' : (words?.todo ?? 'check the file and the device it is on');
  return `${err.path ? `${err.path}: ` : ''}${doing}: ${reason} (${code}): ${todo}`;
}
