// The CLI writes its output by descriptor (src/cli/stdio-write.ts), not
// through process.stdout's stream, and must do what the stream did: every
// byte delivered, in order, when the pipe is full and the descriptor
// non-blocking (building process.stdout for a pipe makes it so, as does a
// stream another process shares it with); a reader that went away ends the
// command quietly with exit 0 (stdout) or drops the text (stderr). Each case
// runs in a process of its own, as only a real descriptor shows these.
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';
import { BUILT_CLI } from '../helpers/spawn-cli.js';

const STDIO_WRITE = pathToFileURL(join(import.meta.dirname, '..', '..', 'dist', 'src', 'cli', 'stdio-write.js')).href;

interface Child {
  readonly code: number | null;
  readonly out: Buffer;
  readonly err: string;
}

/** Runs `args` under node; stdout is read only after `readAfterMs`, or its read end closed at once when `closeStdout`. */
function run(args: readonly string[], opts: { readAfterMs?: number; closeStdout?: boolean; closeStderr?: boolean } = {}): Promise<Child> {
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  const out: Buffer[] = [];
  let err = '';
  if (opts.closeStdout) child.stdout.destroy();
  else {
    child.stdout.pause();
    setTimeout(() => child.stdout.on('data', (d: Buffer) => out.push(d)).resume(), opts.readAfterMs ?? 0);
  }
  if (opts.closeStderr) child.stderr.destroy();
  else child.stderr.on('data', (d) => (err += d));
  return new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, out: Buffer.concat(out), err }));
  });
}

const script = (body: string) => ['--input-type=module', '-e', `import { writeStdio } from ${JSON.stringify(STDIO_WRITE)};\n${body}`];

describe('output by descriptor', () => {
  it('delivers 4 MiB whole and in order to a full pipe whose descriptor is non-blocking (EAGAIN waits and tries again)', async () => {
    // Building process.stdout for a pipe leaves descriptor 1 non-blocking; the parent reads only after 300 ms.
    const r = await run(script(`process.stdout;\nfor (let i = 0; i < 64; i++) writeStdio(1, String(i % 10).repeat(65536));\nwriteStdio(2, 'done');`), { readAfterMs: 300 });
    expect(r.err).toBe('done');
    expect(r.code).toBe(0);
    expect(r.out.length).toBe(64 * 65536);
    for (let i = 0; i < 64; i++) expect(r.out[i * 65536 + 12345], `block ${i}`).toBe(48 + (i % 10));
  }, 30_000);

  it("stops with exit 0 and nothing on stderr when stdout's reader went away (migsim ... | head)", async () => {
    const r = await run(script(`for (let i = 0; i < 64; i++) writeStdio(1, 'x'.repeat(65536));\nwriteStdio(2, 'not reached');\nprocess.exitCode = 5;`), { closeStdout: true });
    expect(r).toMatchObject({ code: 0, err: '' });
  }, 30_000);

  it("drops text for a stderr whose reader went away, and goes on", async () => {
    const r = await run(script(`writeStdio(2, 'x'.repeat(65536));\nwriteStdio(1, 'went on');`), { closeStderr: true });
    expect(r.code).toBe(0);
    expect(r.out.toString()).toBe('went on');
  }, 30_000);

  it('the built CLI: --help to a reader that went away exits 0 quietly; a run prints its JSON whole to a pipe', async () => {
    expect(await run([BUILT_CLI, '--help'], { closeStdout: true })).toMatchObject({ code: 0, err: '' });
    const r = await run([BUILT_CLI, 'run', 'hot-set', '--tracker', 'hap', '--duration', '10ms', '--round', '5ms', '--mem', '256MiB', '--seed', '1', '--json']);
    expect(r).toMatchObject({ code: 0, err: '' });
    expect(JSON.parse(r.out.toString())).toMatchObject({ source: 'hot-set', tracker: 'hap', guestEvents: 10001 });
  }, 60_000);
});
