// compare runs its trackers over the guest events generated (or read) once
// (src/api/compare-on-cores.ts): on this thread, and on worker threads when
// there are cores to spare (one per core but one, several trackers to a
// thread when there are more trackers than threads). Its output must be the
// output of the trackers run one after the other, byte for byte, errors and
// exit codes included. The built modules, where the worker module exists,
// are run in a process of their own with one thread, with workers (as if
// on four cores, whatever this machine has) and in order
// (compareTrackers); the built CLI is held against the CLI run in-process
// from the sources (no built worker: every tracker on one thread).
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { BUILT_CLI, UNBUNDLED_CLI } from '../helpers/spawn-cli.js';
import { runCli } from './cli-run.js';
import { pathToFileURL } from 'node:url';
import { assignTrackers, simulationThreads, workerExecArgv } from '../../src/api/compare-on-cores.js';

const dir = mkdtempSync(join(tmpdir(), 'migsim-compare-cores-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const BUILT_SRC = join(UNBUNDLED_CLI, '..', '..');

/** The built modules in a process of their own: `body` runs with compareTrackersOnCores, compareTrackers and source() (a workload source) in scope, and prints its answer. */
function builtApi(body: string): Promise<string> {
  const url = (path: string) => JSON.stringify(pathToFileURL(join(BUILT_SRC, path)).href);
  const script = [
    `const { compareTrackersOnCores } = await import(${url('api/compare-on-cores.js')});`,
    `const { compareTrackers } = await import(${url('api/compare.js')});`,
    `const { workloadSource } = await import(${url('api/workload-source.js')});`,
    `const { DEFAULT_COSTS } = await import(${url('model/cost-model.js')});`,
    body,
  ].join('\n');
  // As a string (node --input-type=module -e): the workers get node's options but those (workerExecArgv).
  return new Promise((resolve, reject) => {
    execFile(process.execPath, ['--input-type=module', '-e', script], { cwd: dir, maxBuffer: 64 * 1024 * 1024 }, (e, out, err) => (e ? reject(new Error(`${e.message}\n${err}`)) : resolve(out)));
  });
}

function builtCli(...args: string[]): Promise<{ code: number; out: string; err: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [BUILT_CLI, ...args], { cwd: dir, maxBuffer: 64 * 1024 * 1024 }, (e, out, err) => resolve({ code: e ? ((e as { code?: number }).code ?? -1) : 0, out, err }));
  });
}

describe('compare on every core', () => {
  it('simulates on one thread per core but one (left to the compiler), at most one per tracker, at least one', () => {
    expect(simulationThreads(3, 1)).toBe(1);
    expect(simulationThreads(3, 2)).toBe(1);
    expect(simulationThreads(3, 3)).toBe(2);
    expect(simulationThreads(3, 4)).toBe(3);
    expect(simulationThreads(3, 64)).toBe(3);
    expect(simulationThreads(5, 4)).toBe(3);
  });

  it('one thread, workers and the trackers in order give the same comparison, each tracker reported once', async () => {
    const out = await builtApi(`
      const source = workloadSource('apache', { seed: 5, durationNs: 1e9, memBytes: 256 * 2 ** 20, settings: {} });
      const opts = { costs: DEFAULT_COSTS };
      const trackers = ['shadow', 'hap', 'pml', 'hap'];
      const seen = () => { const runs = []; return [runs, { onEach: (t, s, run) => runs.push(t + ':' + run) }]; };
      const [oneRuns, oneHooks] = seen();
      const one = await compareTrackersOnCores(source, trackers, opts, oneHooks, 2);
      const [workerRuns, workerHooks] = seen();
      const workers = await compareTrackersOnCores(source, trackers, opts, workerHooks, 4);
      const inOrder = compareTrackers(source, trackers, opts);
      console.log(JSON.stringify({ one, workers, inOrder, oneRuns: oneRuns.sort(), workerRuns: workerRuns.sort() }));
    `);
    const r = JSON.parse(out) as Record<'one' | 'workers' | 'inOrder', unknown> & { oneRuns: string[]; workerRuns: string[] };
    expect(JSON.stringify(r.one)).toBe(JSON.stringify(r.inOrder));
    expect(JSON.stringify(r.workers)).toBe(JSON.stringify(r.inOrder));
    const each = ['hap:1', 'hap:3', 'pml:2', 'shadow:0'];
    expect(r.oneRuns).toEqual(each);
    expect(r.workerRuns).toEqual(each);
  });

  it("a worker gets node's options but those of a program given as a string, which a worker from a file refuses", () => {
    expect(workerExecArgv(['--input-type=module', '-e', 'x()', '--max-old-space-size=8192'])).toEqual(['--max-old-space-size=8192']);
    expect(workerExecArgv(['--input-type', 'module', '--eval=x()', '--stack-size=2000', '-p', '1'])).toEqual(['--stack-size=2000']);
    expect(workerExecArgv(['--enable-source-maps', '--conditions=x'])).toEqual(['--enable-source-maps', '--conditions=x']);
  });

  it('with workers, starts no more threads than asked: on two, three trackers share two threads, each tracker run once', () => {
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

  it('compare --json (built, as a user runs it) prints what it prints from the sources, byte for byte', async () => {
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
