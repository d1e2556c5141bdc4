// Every I/O error is one line naming the file the user gave, saying what
// went wrong in words and what to do, with exit 2 and nothing left behind:
// a read that fails mid-file (EIO), a write that runs out of space
// (ENOSPC), an output directory the user may not write (EACCES). Node's
// errors of a read or write by descriptor name no file, so these are the
// cases a message without a path came from. The file system is made to
// fail here (node:fs wrapped for this test file): a real EIO needs a
// failing disk, and root, who runs the tests in CI, is never refused.
import * as realFs from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it, vi } from 'vitest';
import { tempDir } from '../helpers/temp-dir.js';
import { runCli } from './cli-run.js';

/** Which files fail, and how: set by each test. */
const faults = vi.hoisted(() => ({ eioFile: '', enospcDir: '', eaccesDir: '' }));

vi.mock('node:fs', async (importOriginal) => {
  const fs = await importOriginal<typeof import('node:fs')>();
  const fdFault = new Map<number, 'eio' | 'enospc'>();
  const readsByFd = new Map<number, number>();
  // As Node's own: a read or write by descriptor has no path.
  const errno = (code: string, syscall: string, path?: string) =>
    Object.assign(new Error(`${code}: ${syscall}${path ? ` '${path}'` : ''}`), { code, syscall, errno: -1, ...(path ? { path } : {}) });
  const under = (dir: string, p: unknown) => dir !== '' && String(p).startsWith(dir);
  const wrapped = {
    ...fs,
    openSync(path: realFs.PathLike, flags: realFs.OpenMode = 'r', mode?: realFs.Mode) {
      if (under(faults.eaccesDir, path) && String(flags).includes('w')) throw errno('EACCES', 'open', String(path));
      const fd = fs.openSync(path, flags, mode);
      if (faults.eioFile !== '' && String(path) === faults.eioFile) fdFault.set(fd, 'eio');
      if (under(faults.enospcDir, path)) fdFault.set(fd, 'enospc');
      return fd;
    },
    closeSync(fd: number) {
      fdFault.delete(fd);
      readsByFd.delete(fd);
      fs.closeSync(fd);
    },
    readSync(fd: number, buffer: NodeJS.ArrayBufferView, offset: number, length: number, position: realFs.ReadPosition | null) {
      if (fdFault.get(fd) === 'eio') {
        // The first read gets the first 4 KiB (a short read, as a device may
        // give); the next, mid-file, fails.
        const n = readsByFd.get(fd) ?? 0;
        readsByFd.set(fd, n + 1);
        if (n > 0) throw errno('EIO', 'read');
        return fs.readSync(fd, buffer, offset, Math.min(length, 4096), position);
      }
      return fs.readSync(fd, buffer, offset, length, position);
    },
    writeSync(fd: number, ...rest: unknown[]) {
      if (fdFault.get(fd) === 'enospc') throw errno('ENOSPC', 'write');
      return (fs.writeSync as (fd: number, ...a: unknown[]) => number)(fd, ...rest);
    },
  };
  return { ...wrapped, default: wrapped };
});

const dir = tempDir('migsim-io-errors-');
const SMALL = ['--duration', '200ms', '--mem', '64MiB', '--seed', '1'];
const workloadTrace = join(dir, 'w.mst');
const runTrace = join(dir, 'r.mst');
const capture = join(dir, 'c.lackey');

beforeAll(async () => {
  expect((await runCli('record', 'hot-set', ...SMALL, '-o', workloadTrace)).code).toBe(0);
  expect((await runCli('run', 'hot-set', ...SMALL, '--tracker', 'hap', '--record', runTrace)).code).toBe(0);
  // A lackey capture of a few thousand stores: enough for more than one read.
  realFs.writeFileSync(capture, Array.from({ length: 4000 }, (_, i) => ` S ${(0x1000000 + i * 64).toString(16)},8`).join('\n') + '\n');
});

/** The one line (after the seed, when one is printed); exit 2. */
function oneLine(r: { code: number; err: string }): string {
  expect(r.code, r.err).toBe(2);
  const lines = r.err.trim().split('\n').filter((l) => !/^seed \d+$/.test(l));
  expect(lines, r.err).toHaveLength(1);
  expect(r.err).not.toMatch(/\n\s+at /);
  return lines[0]!;
}

const temporaries = (d: string) => realFs.readdirSync(d).filter((f) => f.endsWith('.partial'));

describe('a read that fails mid-file names the file and says what to do', () => {
  it.each([
    ['inspect', () => ['inspect', workloadTrace], workloadTrace],
    ['replay', () => ['replay', workloadTrace, '--verify'], workloadTrace],
    ['run', () => ['run', workloadTrace, '--tracker', 'hap'], workloadTrace],
    ['report', () => ['report', runTrace, '-o', join(dir, 'x.html')], runTrace],
    ['export', () => ['export', runTrace, '--perfetto', '-o', join(dir, 'x.json')], runTrace],
    ['import', () => ['import', 'lackey', capture, '-o', join(dir, 'i.mst')], capture],
  ])('%s', async (_what, args, file) => {
    faults.eioFile = file;
    try {
      const line = oneLine(await runCli(...args()));
      expect(line).toBe(`migsim: ${file}: cannot read: input/output error (EIO): the device failed to read or write: check it (dmesg), or copy the file to a sound disk and run again`);
    } finally {
      faults.eioFile = '';
    }
    expect(temporaries(dir)).toEqual([]);
  });
});

describe('a write that fails names the file asked for (never its temporary), says what to do, and leaves nothing', () => {
  const out = join(dir, 'full');
  realFs.mkdirSync(out);
  it.each([
    ['record -o', (f: string) => ['record', 'hot-set', ...SMALL, '-o', f]],
    ['run --record', (f: string) => ['run', 'hot-set', ...SMALL, '--tracker', 'hap', '--record', f]],
    ['export -o', (f: string) => ['export', runTrace, '--perfetto', '-o', f]],
    ['report -o', (f: string) => ['report', runTrace, '-o', f]],
    ['import -o', (f: string) => ['import', 'lackey', capture, '-o', f]],
  ])('%s on a full disk (ENOSPC)', async (_what, args) => {
    const file = join(out, 'out.file');
    faults.enospcDir = out;
    try {
      expect(oneLine(await runCli(...args(file)))).toBe(`migsim: ${file}: cannot write: no space left on the device (ENOSPC): free space there, or write to another file system`);
    } finally {
      faults.enospcDir = '';
    }
    expect(realFs.readdirSync(out)).toEqual([]);
  });

  it('record -o into a directory the user may not write (EACCES)', async () => {
    const locked = join(dir, 'locked');
    realFs.mkdirSync(locked);
    const file = join(locked, 'x.mst');
    faults.eaccesDir = locked;
    try {
      expect(oneLine(await runCli('record', 'hot-set', ...SMALL, '-o', file))).toBe(`migsim: ${file}: cannot write: permission denied (EACCES): check its permissions (and its directory's), or use another path`);
    } finally {
      faults.eaccesDir = '';
    }
    expect(realFs.readdirSync(locked)).toEqual([]);
  });
});
