import { closeSync, openSync, readdirSync, unlinkSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';

/**
 * The temporary files of this process: the bytes of a file being written
 * (src/util/atomic-write.ts) and scratch files that must not outlive the
 * command (an import's provisional trace).
 *
 * Each temporary is named `TARGET.<pid>.<n>.partial`, beside its target
 * (so that the final rename stays within one file system), and opened
 * exclusively ('wx'): two writers to one target, in one process or in two,
 * never share a temporary, so neither can truncate, rename or remove the
 * other's bytes. The pid in the name is what makes a temporary left by a
 * killed process safe to remove later: the next write to the same target
 * removes every temporary of it whose process is no longer running.
 *
 * Nothing here reads the process or the environment (DESIGN section 10):
 * the command line says who is writing with `setTemporaryOwner` (its pid,
 * how to tell whether another pid still runs, and whom to tell of each
 * temporary so it can be removed if the process is killed). Without an
 * owner (the library used on its own) the pid written is 0, meaning
 * "unknown": such temporaries are never taken for stale, since no one can
 * tell whether their writer still runs.
 */
export interface TemporaryOwner {
  /** The writing process's id, written into each temporary's name. */
  readonly pid: number;
  /** Whether the process with this id still runs (one that does not left its temporaries behind). */
  isAlive(pid: number): boolean;
  /** Told a temporary's path just before it is created. */
  created?(path: string): void;
  /** Told when a temporary is no longer this process's: renamed into place, or removed. */
  released?(path: string): void;
}

/** The pid written when no owner is set: unknown, never taken for a dead process. */
const UNKNOWN_PID = 0;

let owner: TemporaryOwner | undefined;
const live = new Set<string>();
let created = 0;

/** Says who writes from now on (the command line, once, at start); undefined goes back to unknown. */
export function setTemporaryOwner(o: TemporaryOwner | undefined): void {
  owner = o;
}

/** The temporaries this process has created and not yet renamed or removed. */
export function liveTemporaries(): readonly string[] {
  return [...live];
}

/**
 * Creates a new, empty temporary for `target`, opened exclusively for
 * writing, after removing the stale temporaries of `target` (those of
 * processes no longer running). Errors are the file system's, with
 * `path` set to the temporary's.
 */
export function createTemporary(target: string): { path: string; fd: number } {
  removeStaleTemporaries(target);
  const pid = owner?.pid ?? UNKNOWN_PID;
  for (;;) {
    const path = `${target}.${pid}.${++created}.partial`;
    // Told before it exists: if the process dies between the two, the
    // one told can still remove it.
    live.add(path);
    owner?.created?.(path);
    try {
      return { path, fd: openSync(path, 'wx') };
    } catch (e) {
      forget(path);
      // Taken: a temporary left by an earlier process that had this pid
      // (pids are reused), or by another unknown writer. Try the next name.
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    }
  }
}

/** The temporary became its target (renamed into place): no longer this process's to remove. */
export function releaseTemporary(path: string): void {
  forget(path);
}

/** Removes a temporary (gone already is fine) and forgets it. */
export function removeTemporary(path: string): void {
  try {
    unlinkSync(path);
  } catch {
    // Already gone: nothing to clean.
  } finally {
    forget(path);
  }
}

/**
 * Removes every temporary this process still has, and returns their
 * paths: for a process about to end with files half written.
 */
export function removeLiveTemporaries(): string[] {
  const paths = [...live];
  for (const p of paths) removeTemporary(p);
  return paths;
}

/**
 * A scratch file beside `near`, named and kept as a temporary (removed by
 * `removeTemporary`, or with the others if the process ends first): for a
 * file a command writes, reads back and drops, which no other process
 * must see or share.
 */
export function createScratchFile(near: string): string {
  const { path, fd } = createTemporary(near);
  closeSync(fd);
  return path;
}

/**
 * Removes the temporaries of `target` left by processes that no longer
 * run, and returns their paths. A temporary of this process's own pid
 * that it does not hold was left by an earlier process with the same pid.
 * Nothing is removed without an owner, nor any temporary of unknown pid.
 * Pids are those of this machine: writers on other machines sharing a
 * directory are out of reach of this check.
 */
export function removeStaleTemporaries(target: string): string[] {
  if (!owner) return [];
  const dir = dirname(target);
  const prefix = `${basename(target)}.`;
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    // No directory (yet): no temporaries; creating one will say why it cannot.
    return [];
  }
  const removed: string[] = [];
  for (const name of names) {
    if (!name.startsWith(prefix)) continue;
    // `<pid>.<n>.partial`, or a temporary of such a temporary (a scratch
    // file's own), which has the same writer.
    const m = /^(\d+)\.\d+\.partial(?:$|\.)/.exec(name.slice(prefix.length));
    if (!m) continue;
    const pid = Number(m[1]);
    const path = join(dir, name);
    if (pid === UNKNOWN_PID || live.has(path)) continue;
    if (pid !== owner.pid && owner.isAlive(pid)) continue;
    try {
      unlinkSync(path);
      removed.push(path);
    } catch {
      // Removed by another process at the same moment: just as good.
    }
  }
  return removed;
}

function forget(path: string): void {
  if (live.delete(path)) owner?.released?.(path);
}
