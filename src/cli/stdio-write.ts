import { fstatSync, writeSync } from 'node:fs';
import { createRequire } from 'node:module';

/**
 * Writes the command's output to stdout or stderr with write(2) on the
 * descriptor, not through process.stdout / process.stderr.
 *
 * Why: the first touch of process.stdout builds a stream for whatever the
 * descriptor is: for a pipe (a script reading migsim's JSON, `| jq`) a
 * net.Socket over libuv's pipe, which loads net, tty and their streams, and
 * compiles Writable's write path; about 10 M instructions (3 ms) of every
 * command, where what it prints is a few kilobytes written once. On Linux
 * Node writes stdout synchronously for files, pipes and terminals alike, so
 * a synchronous write is what the stream did, in the same order.
 *
 * What the stream also did, done here:
 * - all of it written: write(2) may write part of a large text to a pipe;
 * - a descriptor left non-blocking (by another process sharing it, or
 *   stderr's stream when it shares stdout's pipe, `2>&1`): EAGAIN waits 1 ms
 *   and tries again, as the reader drains it;
 * - `migsim inspect x.mst | head`: the reader went away (EPIPE); stdout
 *   then stops quietly with exit 0 as Unix tools do, and text for stderr is
 *   dropped (no one reads it, and it must not turn into an internal error).
 */
export function writeStdio(fd: 1 | 2, text: string): void {
  const bytes = Buffer.from(text, 'utf8');
  for (let at = 0; at < bytes.length; ) {
    try {
      at += writeSync(fd, bytes, at, bytes.length - at);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'EAGAIN') {
        Atomics.wait(pause, 0, 0, 1);
        continue;
      }
      if (code === 'EPIPE') {
        if (fd === 1) process.exit(0);
        return;
      }
      throw e;
    }
  }
}

/** Waited on for EAGAIN's millisecond. */
const pause = new Int32Array(new SharedArrayBuffer(4));

/**
 * Whether the descriptor is a terminal, without building its stream:
 * node:tty (and net with it) is loaded only for a character device, which
 * a file or a pipe is not.
 */
export function isTerminal(fd: 1 | 2): boolean {
  try {
    if (!fstatSync(fd).isCharacterDevice()) return false;
  } catch {
    return false;
  }
  return (createRequire(import.meta.url)('node:tty') as typeof import('node:tty')).isatty(fd);
}
