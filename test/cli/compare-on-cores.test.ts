// compare runs its trackers on worker threads (several on one when there are
// more trackers than cores) and this thread over the guest
// events generated (or read) once (src/api/compare-on-cores.ts): its output
// must be the output of the trackers run one after the other, byte for
// byte, errors and exit codes included. The built CLI (a process of its
// own, where the worker module exists) is held against the CLI run
// in-process from the sources, which has no built worker and runs the
// trackers in order (compareTrackers).
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { BUILT_CLI } from '../helpers/spawn-cli.js';
import { runCli } from './cli-run.js';
import { assignTrackers } from '../../src/api/compare-on-cores.js';

const dir = mkdtempSync(join(tmpdir(), 'migsim-compare-cores-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function builtCli(...args: string[]): Promise<{ code: number; out: string; err: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [BUILT_CLI, ...args], { cwd: dir, maxBuffer: 64 * 1024 * 1024 }, (e, out, err) => resolve({ code: e ? ((e as { code?: number }).code ?? -1) : 0, out, err }));
  });
}

describe('compare on every core', () => {
  it('starts no more threads than cores: on two, three trackers share two threads, each tracker run once', () => {
    // This thread generates the guest (2 HAP runs' worth) and takes HAP; the worker, shadow and PML.
    expect(assignTrackers(['shadow', 'hap', 'pml'], 2)).toEqual([[1], [0, 2]]);
    expect(assignTrackers(['pml', 'hap', 'pml'], 2)).toEqual([[2], [0, 1]]);
    // With a core per tracker and one over, every tracker has a worker and this thread only generates.
    expect(assignTrackers(['shadow', 'hap', 'pml'], 4)).toEqual([[], [2], [1], [0]]);
    for (const cores of [2, 3, 4]) {
      const threads = assignTrackers(['shadow', 'hap', 'pml', 'kvm-wp', 'direct'], cores);
      expect(threads.length).toBeLessThanOrEqual(cores);
      expect(threads.flat().sort()).toEqual([0, 1, 2, 3, 4]);
    }
  });

  it('compare --json on worker threads prints what the trackers run in order print, byte for byte', async () => {
    const args = ['compare', 'apache', '--duration', '1s', '--mem', '256MiB', '--seed', '7', '--start', '200ms', '--json'];
    const [parallel, inOrder] = await Promise.all([builtCli(...args), runCli(...args)]);
    expect(inOrder.code).toBe(0);
    expect(parallel.code).toBe(0);
    expect(JSON.parse(parallel.out).trackers).toEqual(['shadow', 'hap', 'pml']);
    expect(parallel.out).toBe(inOrder.out);
  });

  it('the table, a trace as the source, and a tracker listed twice are the same too', async () => {
    const trace = join(dir, 'hs.mst');
    expect((await runCli('record', 'hot-set', '-o', trace, '--duration', '300ms', '--mem', '256MiB', '--seed', '3')).code).toBe(0);
    const args = ['compare', trace, '--trackers', 'pml,hap,pml', '--policy', 'qemu', '--seed', '3'];
    const [parallel, inOrder] = await Promise.all([builtCli(...args), runCli(...args)]);
    expect(parallel.code).toBe(inOrder.code);
    expect(parallel.out).toBe(inOrder.out);
  });

  it('a tracker the guest cannot have is the same one-line error, exit 2', async () => {
    const args = ['compare', 'hot-set', '--guest', 'pv', '--trackers', 'shadow,hap', '--duration', '100ms', '--mem', '256MiB', '--seed', '1'];
    const [parallel, inOrder] = await Promise.all([builtCli(...args), runCli(...args)]);
    expect(inOrder.code).toBe(2);
    expect(parallel.code).toBe(2);
    expect(parallel.err).toBe(inOrder.err);
    expect(parallel.out).toBe('');
  });
});
