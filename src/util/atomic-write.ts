import { closeSync, fstatSync, fsyncSync, renameSync, statSync, writeSync } from 'node:fs';
import { createTemporary, releaseTemporary, removeTemporary } from './temporary-files.js';

/**
 * Every file migsim writes (traces, exports, reports, golden summaries)
 * goes through here, so that a reader never sees half a file (DESIGN
 * section 9): the bytes go to a temporary of this writer's own
 * (`FILE.<pid>.<n>.partial`, src/util/temporary-files.ts), which is synced
 * and renamed over FILE only once complete. A failed or abandoned write
 * removes the temporary and leaves any earlier FILE as it was.
 *
 * Two writers to one FILE at once (two processes, or two writers in one)
 * each write their own temporary, so FILE is always one complete file:
 * the one renamed last. What a writer can promise about FILE is what was
 * true when its rename was done: after renaming, it checks that FILE is
 * still the file it wrote (same inode) and, if another writer's rename
 * came in between, throws FileReplacedError rather than claim a result
 * FILE does not hold. A rename by another writer after that check replaces
 * FILE as any later write does; no writer can know of it.
 *
 * Errors name FILE, not the temporary: the target is what the user gave.
 *
 * `AtomicFile` is for a file written in pieces (a trace, a timeline
 * streamed out); `writeFileAtomic` for one whose content is at hand.
 */
export class AtomicFile {
  readonly tmpPath: string;
  private fd: number | undefined;
  private bytes = 0;

  constructor(readonly path: string) {
    // A directory would fail only at the rename, after all the work.
    if (statSync(path, { throwIfNoEntry: false })?.isDirectory()) throw ioError('EISDIR', path);
    try {
      const t = createTemporary(path);
      this.tmpPath = t.path;
      this.fd = t.fd;
    } catch (e) {
      throw naming(e, path);
    }
  }

  /** True until the file is committed or aborted. */
  get isOpen(): boolean {
    return this.fd !== undefined;
  }

  /** Bytes written so far (the file's size once committed). */
  get bytesWritten(): number {
    return this.bytes;
  }

  write(bytes: Uint8Array): void {
    const fd = this.fd;
    if (fd === undefined) throw new Error(`${this.path}: written after it was closed`);
    try {
      let off = 0;
      while (off < bytes.length) off += writeSync(fd, bytes, off, bytes.length - off);
    } catch (e) {
      // A failed write (ENOSPC, EIO) ends the file: its temporary goes now,
      // not when the process exits, so a library caller is left nothing.
      this.abort();
      throw naming(e, this.path);
    }
    this.bytes += bytes.length;
  }

  /**
   * Syncs the temporary and renames it over the file. On failure the
   * temporary is removed. Throws FileReplacedError when, just after the
   * rename, the file is already another writer's.
   */
  commit(): void {
    const fd = this.fd;
    if (fd === undefined) throw new Error(`${this.path}: committed after it was closed`);
    let ours: { dev: bigint; ino: bigint };
    try {
      ours = fstatSync(fd, { bigint: true });
      fsyncSync(fd);
    } catch (e) {
      this.abort();
      throw naming(e, this.path);
    }
    closeSync(fd);
    this.fd = undefined;
    try {
      renameSync(this.tmpPath, this.path);
    } catch (e) {
      removeTemporary(this.tmpPath);
      throw naming(e, this.path);
    }
    releaseTemporary(this.tmpPath);
    const now = statSync(this.path, { bigint: true, throwIfNoEntry: false });
    if (!now || now.ino !== ours.ino || now.dev !== ours.dev) throw new FileReplacedError(this.path);
  }

  /** Drops the temporary; the file is untouched. Safe to call twice, and after commit (then it does nothing). */
  abort(): void {
    const fd = this.fd;
    if (fd === undefined) return;
    this.fd = undefined;
    try {
      closeSync(fd);
    } catch {
      // Already closed: the temporary still goes.
    }
    removeTemporary(this.tmpPath);
  }
}

/**
 * A complete file was renamed into place, but by the time its writer
 * looked, another writer's rename had replaced it: the file is whole and
 * valid, and holds the other writer's result.
 */
export class FileReplacedError extends Error {
  override readonly name = 'FileReplacedError';

  constructor(readonly path: string) {
    super(`${path}: another process wrote this file at the same time, and its copy replaced this one just after this one was complete: the file holds the other's result, not this one's; give each run its own output file`);
  }
}

/** Writes `data` (a string as UTF-8) to `path` atomically. */
export function writeFileAtomic(path: string, data: string | Uint8Array): void {
  const file = new AtomicFile(path);
  try {
    file.write(typeof data === 'string' ? Buffer.from(data, 'utf8') : data);
    file.commit();
  } catch (e) {
    file.abort();
    throw e;
  }
}

/** A file-system error as Node gives them, for a check made before the call that would fail. */
function ioError(code: string, path: string): NodeJS.ErrnoException {
  return Object.assign(new Error(`${code}: write '${path}'`), { code, syscall: 'write', path });
}

/**
 * The same error as one of writing the file the caller named: Node's names
 * the temporary (open, rename) or no file at all (write, fsync on an fd),
 * and which of these calls failed means nothing to the user.
 */
function naming(e: unknown, path: string): unknown {
  const err = e as NodeJS.ErrnoException;
  if (err && typeof err === 'object' && typeof err.code === 'string') {
    err.path = path;
    err.syscall = 'write';
    delete (err as { dest?: string }).dest;
  }
  return e;
}
