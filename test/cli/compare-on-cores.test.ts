// compare runs its trackers over the guest events generated (or read) once
// (src/api/compare-on-cores.ts): on this thread, and on worker threads
// (trackers of one kind, EPT loop or page walk, to one thread: the thread
// plan of src/api/compare-threads.ts). Its output must be the output of
// the trackers run one after the other, byte for byte, errors and exit
// codes included, whatever the plan. The built modules, where the worker
// module exists, are run in a process of their own under every plan of
// three and four trackers on up to four threads, and in order
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
import { assignTrackers, EPT_LOOP_TRACKERS, workerExecArgv } from '../../src/api/compare-threads.js';
import { workloadSource } from '../../src/api/workload-source.js';
import { simulationSetup } from '../../src/api/simulation-setup.js';
import { Simulation } from '../../src/reducers/simulation.js';
import { TRACKER_NAMES } from '../../src/reducers/tracker.js';

const PLANS_OF_3 = 15;
const PLANS_OF_4 = 6;

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
  it('trackers of one kind share a thread: on two cores shadow goes to a worker and hap and pml stay with the generation', () => {
    expect(assignTrackers(['shadow', 'hap', 'pml'], 2)).toEqual([[1, 2], [0]]);
    expect(assignTrackers(['hap', 'shadow', 'pml', 'hap'], 2)).toEqual([[0, 2, 3], [1]]);
    // One kind: a second thread would only compile the same code again.
    expect(assignTrackers(['pml', 'hap', 'pml'], 2)).toEqual([[0, 1, 2]]);
    expect(assignTrackers(['shadow', 'direct'], 2)).toEqual([[0, 1]]);
    // One core: everything here. A tie of kinds: the first listed stays here.
    expect(assignTrackers(['shadow', 'hap', 'pml'], 1)).toEqual([[0, 1, 2]]);
    expect(assignTrackers(['shadow', 'hap'], 2)).toEqual([[0], [1]]);
    // A kind splits only with a core left over for the compiler.
    expect(assignTrackers(['shadow', 'hap', 'pml'], 3)).toEqual([[1, 2], [0]]);
    expect(assignTrackers(['shadow', 'hap', 'pml'], 4)).toEqual([[1], [0], [2]]);
    for (const cores of [1, 2, 3, 4, 8]) {
      const threads = assignTrackers(['shadow', 'hap', 'pml', 'kvm-wp', 'direct'], cores);
      // One thread a kind (two kinds here), more only with a core spare for the compiler.
      expect(threads.length).toBeLessThanOrEqual(Math.max(Math.min(2, cores), cores - 1));
      expect(threads.flat().sort()).toEqual([0, 1, 2, 3, 4]);
    }
  });

  it('the plan counts the cores the load average leaves idle and the one it runs on: every core busy, one thread', async () => {
    const out = await builtApi(`
      const { compareThreadPlan } = await import(${JSON.stringify(pathToFileURL(join(BUILT_SRC, 'api/compare-threads.js')).href)});
      const t = ['shadow', 'hap', 'pml'];
      console.log(JSON.stringify([compareThreadPlan(t, 2), compareThreadPlan(t, 2, 0.4), compareThreadPlan(t, 2, 1.7), compareThreadPlan(t, 2, 2), compareThreadPlan(t, 2, 9), compareThreadPlan(t, 4, 2.6), compareThreadPlan(t, 4, 0)]));
    `);
    // 2 cores: idle or partly busy (load under 2), a worker for shadow; every core busy, one thread.
    // 4 cores at load 2.6: two idle in part and this one, three: one worker (a core left for the compiler); idle: one tracker a thread.
    expect(JSON.parse(out)).toEqual([[[1, 2], [0]], [[1, 2], [0]], [[1, 2], [0]], [[0, 1, 2]], [[0, 1, 2]], [[1, 2], [0]], [[1], [0], [2]]]);
  });

  it("the EPT-loop kind is exactly the trackers with gates (Simulation runs those in runUnderEpt)", () => {
    for (const tracker of TRACKER_NAMES) {
      const guest = tracker === 'direct' ? 'pv' : 'hvm';
      const { header } = workloadSource('hot-set', { seed: 1, durationNs: 1e6, memBytes: 64 * 2 ** 20, guest, settings: {} });
      const sim = new Simulation(simulationSetup(header, { tracker }), () => {});
      expect([tracker, sim.tracker.gates !== undefined]).toEqual([tracker, EPT_LOOP_TRACKERS.includes(tracker)]);
    }
  });

  it('every thread plan gives each tracker the summary it has run alone, and the comparison compareTrackers gives, each tracker reported once', async () => {
    const out = await builtApi(`
      const source = workloadSource('apache', { seed: 5, durationNs: 2e8, memBytes: 128 * 2 ** 20, settings: {} });
      const opts = { costs: DEFAULT_COSTS };
      const { startCompareWorkers } = await import(${JSON.stringify(pathToFileURL(join(BUILT_SRC, 'api/compare-threads.js')).href)});
      const { runMigration } = await import(${JSON.stringify(pathToFileURL(join(BUILT_SRC, 'api/run-migration.js')).href)});
      // Every way to put the runs on up to 4 threads (the main thread's list first, possibly empty; no empty worker).
      const plansOf = (runs) => {
        const out = [];
        const place = (i, threads) => {
          if (i === runs) { if (threads.slice(1).every((t) => t.length > 0)) out.push(threads.map((t) => [...t])); return; }
          for (let t = 0; t < threads.length; t++) { threads[t].push(i); place(i + 1, threads); threads[t].pop(); }
          if (threads.length < 4) place(i, [...threads, []]);
        };
        place(0, [[]]);
        // Each set of workers once, whatever their order.
        const key = (p) => JSON.stringify([p[0], ...p.slice(1).sort((a, b) => a[0] - b[0])]);
        return [...new Map(out.map((p) => [key(p), p])).values()];
      };
      const results = {};
      for (const trackers of [['shadow', 'hap', 'pml'], ['pml', 'shadow', 'hap', 'pml']]) {
        const alone = trackers.map((tracker) => runMigration(source, { ...opts, tracker }));
        const inOrder = compareTrackers(source, trackers, opts);
        // Every plan of three runs; of four, one of each shape (a tracker listed twice, on one thread and on two).
        const plans = trackers.length === 3 ? plansOf(3) : [[[0, 1, 2, 3]], [[], [0, 1, 2, 3]], [[0], [1], [2], [3]], [[1], [0, 3], [2]], [[0, 3], [1, 2]], [[2], [0, 1, 3]]];
        const differ = [];
        for (const plan of plans) {
          const runs = [];
          // Every other plan takes workers started before (as the CLI starts them), one too many: the surplus is ended.
          const workers = plans.indexOf(plan) % 2 === 1 ? startCompareWorkers(plan.length) : undefined;
          const r = await compareTrackersOnCores(source, trackers, opts, { onEach: (t, s, run) => runs.push(t + ':' + run) }, { plan, workers });
          if (JSON.stringify(r) !== JSON.stringify(inOrder)) differ.push(['result', plan]);
          r.summaries.forEach((s, i) => { if (JSON.stringify(s) !== JSON.stringify(alone[i])) differ.push(['alone', plan, i]); });
          if (JSON.stringify(runs.sort()) !== JSON.stringify(trackers.map((t, i) => t + ':' + i).sort())) differ.push(['onEach', plan, runs]);
        }
        results[trackers.join(',')] = { plans: plans.length, differ };
      }
      console.log(JSON.stringify(results));
    `);
    const r = JSON.parse(out) as Record<string, { plans: number; differ: unknown[] }>;
    // A plan of 3 runs is a partition into k groups (Stirling numbers S(3, k) = 1, 3, 1), one group
    // or none on the main thread (k + 1 ways): 1*2 + 3*3 + 1*4 = 15.
    expect(r['shadow,hap,pml']!.differ).toEqual([]);
    expect(r['pml,shadow,hap,pml']!.differ).toEqual([]);
    expect(r['shadow,hap,pml']!.plans).toBe(PLANS_OF_3);
    expect(r['pml,shadow,hap,pml']!.plans).toBe(PLANS_OF_4);
  }, 240_000);

  it("a worker gets node's options but those of a program given as a string, which a worker from a file refuses", () => {
    expect(workerExecArgv(['--input-type=module', '-e', 'x()', '--max-old-space-size=8192'])).toEqual(['--max-old-space-size=8192']);
    expect(workerExecArgv(['--input-type', 'module', '--eval=x()', '--stack-size=2000', '-p', '1'])).toEqual(['--stack-size=2000']);
    expect(workerExecArgv(['--enable-source-maps', '--conditions=x'])).toEqual(['--enable-source-maps', '--conditions=x']);
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
