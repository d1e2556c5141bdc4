import type { ChildProcess } from 'node:child_process';
import { createRequire } from 'node:module';
import { resolve } from 'node:path';
import { removeLiveTemporaries, setTemporaryOwner } from '../util/temporary-files.js';

/**
 * Makes the temporaries this process writes (src/util/temporary-files.ts)
 * go away however it ends, and lets later runs clear those of processes
 * that were killed.
 *
 * Why not a SIGINT handler: a command runs its simulation synchronously,
 * and Node runs a signal handler only when the event loop next gets
 * control, which is after the work is done (checked: a handler installed
 * before a 3 s loop never ran). A handler would turn Ctrl-C into "finish,
 * then stop". So migsim keeps the default action (the process ends at
 * once; a shell reports 130 for SIGINT, 143 for SIGTERM), and a small
 * janitor process, started with the first temporary, is told each
 * temporary's path before it is created and when it is renamed or removed;
 * when this process ends, however it ends (SIGKILL included), the janitor
 * removes what is left. An `exit` handler does the same at once for an
 * exit Node sees (process.exit, a crash). Should the janitor itself be
 * killed, the temporary's name carries the pid, and the next write to the
 * same file removes temporaries whose process is gone.
 */
export function installTemporaryCleanup(): void {
  let janitor: ChildProcess | undefined;
  let janitorFailed = false;
  const tell = (message: { add: string } | { remove: string }) => {
    if (!janitor && !janitorFailed) janitor = startJanitor(() => (janitorFailed = true));
    // A send on an IPC pipe with nothing queued is written before send
    // returns, so the janitor has the path even if this process is killed
    // the next instant.
    if (janitor?.connected) janitor.send(message, (e) => e && (janitorFailed = true));
  };
  setTemporaryOwner({
    pid: process.pid,
    isAlive,
    created: (path) => tell({ add: resolve(path) }),
    released: (path) => tell({ remove: resolve(path) }),
  });
  process.on('exit', () => removeLiveTemporaries());
}

/** Whether a process runs: signal 0 checks without sending anything; EPERM means it runs as another user. */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * The janitor's whole program. It runs as a `node -e` script, which is
 * CommonJS and evaluated before the event loop first turns: its listeners
 * are in place before the first message or the channel's close is read.
 * (An ES module entry is loaded asynchronously, and a message read before
 * its listener exists is dropped: a killed command could leave its
 * temporary.) It takes node:fs as an argument because the script has no
 * imports.
 */
function janitorProgram(fs: typeof import('node:fs')): void {
  process.title = 'migsim-janitor';
  const live = new Set<string>();
  const cleanUp = () => {
    for (const path of live) {
      try {
        fs.unlinkSync(path);
      } catch {
        // Renamed into place or removed just before the end: nothing to clean.
      }
    }
    process.exit(0);
  };
  process.on('message', (m: { add?: string; remove?: string }) => {
    if (typeof m.add === 'string') live.add(m.add);
    if (typeof m.remove === 'string') live.delete(m.remove);
  });
  // The channel closes when the command's process ends, after every
  // message it sent has been read.
  process.on('disconnect', cleanUp);
  if (!process.connected) cleanUp();
}

/**
 * Starts the janitor detached (a process group of its own, so the Ctrl-C
 * that stops the command does not stop it) with no stdio (it holds no pipe
 * of the command's open, so whoever reads the command's output sees it end
 * when the command does).
 */
function startJanitor(onFailure: () => void): ChildProcess | undefined {
  try {
    // node:child_process (loading it loads net, dgram and more: 1.5-2 ms)
    // only here, with the first temporary: most commands write none.
    const { spawn } = createRequire(import.meta.url)('node:child_process') as typeof import('node:child_process');
    const child = spawn(process.execPath, ['-e', `(${janitorProgram.toString()})(require('node:fs'))`], { stdio: ['ignore', 'ignore', 'ignore', 'ipc'], detached: true });
    child.on('error', onFailure);
    // Neither the janitor nor its channel keeps this process alive.
    child.unref();
    child.channel?.unref();
    return child;
  } catch {
    // No janitor (no processes left to start): the pid in the names still
    // lets the next run remove what a kill leaves.
    onFailure();
    return undefined;
  }
}
