import { closeSync, fsyncSync, openSync, renameSync, unlinkSync, writeSync } from 'node:fs';

/**
 * Every file migsim writes (traces, exports, reports, golden summaries)
 * goes through here, so that a reader never sees half a file (DESIGN
 * section 9): the bytes go to `FILE.partial`, which is synced and renamed
 * over FILE only once complete. A failed or abandoned write removes the
 * temporary and leaves any earlier FILE as it was.
 *
 * `AtomicFile` is for a file written in pieces (a trace, a timeline
 * streamed out); `writeFileAtomic` for one whose content is at hand.
 */
export class AtomicFile {
  readonly tmpPath: string;
  private fd: number | undefined;
  private bytes = 0;

  constructor(readonly path: string) {
    this.tmpPath = `${path}.partial`;
    this.fd = openSync(this.tmpPath, 'w');
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
    let off = 0;
    while (off < bytes.length) off += writeSync(fd, bytes, off, bytes.length - off);
    this.bytes += bytes.length;
  }

  /** Syncs the temporary and renames it over the file. On failure the temporary is removed. */
  commit(): void {
    const fd = this.fd;
    if (fd === undefined) throw new Error(`${this.path}: committed after it was closed`);
    try {
      fsyncSync(fd);
    } catch (e) {
      this.abort();
      throw e;
    }
    closeSync(fd);
    this.fd = undefined;
    try {
      renameSync(this.tmpPath, this.path);
    } catch (e) {
      removeQuietly(this.tmpPath);
      throw e;
    }
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
    removeQuietly(this.tmpPath);
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

function removeQuietly(path: string): void {
  try {
    unlinkSync(path);
  } catch {
    // Already gone: nothing to clean.
  }
}
