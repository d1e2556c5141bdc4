// The bundle's V8 code cache (src/cli/code-cache.cts, written by
// scripts/bundle-cli.mjs) changes how fast the code is compiled, never what
// it does: the same commands print the same bytes and exit the same with the
// cache used, with Node compiling alone (MIGSIM_CODE_CACHE=off), with no
// cache, with caches whose bytes were damaged (V8 refuses them), with each
// file's cache swapped for another file's (the source digest refuses them),
// and under a V8 flag the cache was not made with (V8 refuses them). Which
// path each process took is read from MIGSIM_CODE_CACHE=report, so the test
// fails if the cache was not used where it should be, or was used where it
// must not be. Nothing here is timed (bench/process-bench.ts measures it).
import { execFile } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BUILT_CLI } from '../helpers/spawn-cli.js';

const COMMANDS: readonly (readonly string[])[] = [
  ['--help'],
  ['run', 'hot-set', '--tracker', 'hap', '--duration', '10ms', '--round', '5ms', '--mem', '256MiB', '--seed', '1', '--json'],
  ['run', 'apache', '--tracker', 'shadow', '--duration', '50ms', '--seed', '1'],
  ['compare', 'apache', '--duration', '50ms', '--seed', '1', '--json'],
  // Bad input: the same one line and exit 2 on every path.
  ['run', 'hot-set', '--tracker', 'nosuch'],
];

interface Outcome {
  readonly code: number;
  readonly out: string;
  /** stderr without the report's lines. */
  readonly err: string;
  /** The main thread's report line's counts, or undefined when it printed none (the hook not installed). */
  readonly counts?: { used: number; rejected: number; missing: number };
}

/** Runs the bundle in `dir` (a copy of dist/cli) with `args`, under node's `nodeOptions` and MIGSIM_CODE_CACHE=`mode`. */
async function runBundle(dir: string, args: readonly string[], mode: string, nodeOptions: readonly string[] = []): Promise<Outcome> {
  const r = await promisify(execFile)(process.execPath, [...nodeOptions, join(dir, 'migsim.js'), ...args], { cwd: work, env: { ...process.env, MIGSIM_CODE_CACHE: mode } }).then(
    (x) => ({ code: 0, stdout: x.stdout, stderr: x.stderr }),
    (e: { code?: number; stdout: string; stderr: string }) => ({ code: e.code ?? -1, stdout: e.stdout, stderr: e.stderr }),
  );
  const lines = r.stderr.split('\n');
  const report = lines.map((l) => /^migsim code cache \(main thread\): (\d+) used, (\d+) rejected, (\d+) missing$/.exec(l)).find((m) => m !== null);
  return {
    code: r.code,
    out: r.stdout,
    err: lines.filter((l) => !l.startsWith('migsim code cache (')).join('\n'),
    ...(report ? { counts: { used: Number(report[1]), rejected: Number(report[2]), missing: Number(report[3]) } } : {}),
  };
}

// Copies of the bundle beside dist/cli, so that its packages resolve from the project's node_modules as the bundle's do.
let copies: string;
let work: string;
/** A copy of dist/cli, changed by `change` (given its code-cache folder). */
function bundleCopy(name: string, change: (cacheDir: string) => void = () => {}): string {
  const dir = join(copies, name);
  cpSync(dirname(BUILT_CLI), dir, { recursive: true });
  change(join(dir, 'code-cache'));
  return dir;
}
const cacheFiles = (cacheDir: string) => readdirSync(cacheDir).filter((f) => f.endsWith('.v8'));
/** The shared caches' folder and that of each command with caches of its own (`run`). */
const cacheDirs = (cacheDir: string) => [cacheDir, join(cacheDir, 'run')];

const variants: Record<string, string> = {};
const baseline: Outcome[] = [];

beforeAll(async () => {
  copies = mkdtempSync(join(dirname(dirname(BUILT_CLI)), 'code-cache-test-'));
  work = join(copies, 'work');
  mkdirSync(work);
  variants['built'] = bundleCopy('built');
  variants['no cache'] = bundleCopy('none', (c) => rmSync(c, { recursive: true }));
  // Bytes past the header flipped throughout: the copy of the source no longer equals the file.
  variants['damaged'] = bundleCopy('damaged', (top) => {
    for (const c of cacheDirs(top)) for (const f of cacheFiles(c)) {
      const bytes = readFileSync(join(c, f));
      for (let i = 64; i < bytes.length; i += 101) bytes[i] ^= 0xa5;
      writeFileSync(join(c, f), bytes);
    }
  });
  // Only V8's data damaged, its first copy (the file: a tag, the source's and the data's lengths, the source, the data twice):
  // V8 would deserialise it and stop the process; the second copy differs, so the hook refuses it first.
  variants['damaged data'] = bundleCopy('damaged-data', (top) => {
    for (const c of cacheDirs(top)) for (const f of cacheFiles(c)) {
      const bytes = readFileSync(join(c, f));
      const tag = bytes.indexOf('\n') + 1;
      const dataAt = tag + 8 + bytes.readUInt32LE(tag);
      const dataBytes = bytes.readUInt32LE(tag + 4);
      expect(bytes.length).toBe(dataAt + 2 * dataBytes);
      for (let i = dataAt + 64; i < dataAt + dataBytes; i += 101) bytes[i] ^= 0xa5;
      writeFileSync(join(c, f), bytes);
    }
  });
  // Each file's cache under the next file's name: whole, valid V8 data, for other source.
  variants['swapped'] = bundleCopy('swapped', (top) => {
    for (const c of cacheDirs(top)) {
    const files = cacheFiles(c).sort();
    renameSync(join(c, files[0]!), join(c, 'first'));
    for (let i = 1; i < files.length; i++) renameSync(join(c, files[i]!), join(c, files[i - 1]!));
    renameSync(join(c, 'first'), join(c, files[files.length - 1]!));
    }
  });
  // Only run's own caches left: a run must find every file it loads there; other commands find none.
  variants['run only'] = bundleCopy('run-only', (c) => {
    for (const f of cacheFiles(c)) rmSync(join(c, f));
  });
  for (const args of COMMANDS) baseline.push(await runBundle(variants['built']!, args, 'off'));
}, 120_000);

afterAll(() => rmSync(copies, { recursive: true, force: true }));

describe('the code cache', () => {
  it('is made by the build for every file of the bundle that a command loads, and Node alone gives the outputs the others must match', () => {
    expect(cacheFiles(join(dirname(BUILT_CLI), 'code-cache'))).toEqual(expect.arrayContaining(['migsim-main.js.v8', 'compare-worker-main.js.v8', 'sweep-worker-main.js.v8', 'read-ahead-worker-main.js.v8']));
    // run's own caches: its files, no worker's.
    expect(cacheFiles(join(dirname(BUILT_CLI), 'code-cache', 'run'))).toContain('migsim-main.js.v8');
    expect(cacheFiles(join(dirname(BUILT_CLI), 'code-cache', 'run')).filter((f) => f.includes('worker'))).toEqual([]);
    expect(baseline.map((b) => b.code)).toEqual([0, 0, 0, 0, 2]);
    for (const b of baseline) expect(b.counts).toBeUndefined();
  });

  it.each(COMMANDS.map((args, i) => [args.join(' '), i] as const))('migsim %s: the same output and exit on every path, each taking the path it should', async (_, i) => {
    const args = COMMANDS[i]!;
    const expected = baseline[i]!;
    const same = (o: Outcome) => {
      expect(o.code).toBe(expected.code);
      expect(o.out).toBe(expected.out);
      expect(o.err).toBe(expected.err);
    };
    const built = await runBundle(variants['built']!, args, 'report');
    same(built);
    expect(built.counts!.used).toBeGreaterThan(0);
    expect(built.counts).toMatchObject({ rejected: 0, missing: 0 });
    const none = await runBundle(variants['no cache']!, args, 'report');
    same(none);
    expect(none.counts).toEqual({ used: 0, rejected: 0, missing: built.counts!.used });
    for (const name of ['damaged', 'damaged data', 'swapped']) {
      const o = await runBundle(variants[name]!, args, 'report');
      same(o);
      expect(o.counts, name).toEqual({ used: 0, rejected: built.counts!.used, missing: 0 });
    }
    // A heap limit is one of V8's flags, which a cache must have been made under.
    const otherFlags = await runBundle(variants['built']!, args, 'report', ['--max-old-space-size=3000']);
    same(otherFlags);
    expect(otherFlags.counts).toEqual({ used: 0, rejected: built.counts!.used, missing: 0 });
  }, 120_000);

  it("a run reads run's own caches (made from runs alone), the help and compare the shared ones", async () => {
    for (const [i, args] of COMMANDS.entries()) {
      const o = await runBundle(variants['run only']!, args, 'report');
      expect([o.code, o.out, o.err]).toEqual([baseline[i]!.code, baseline[i]!.out, baseline[i]!.err]);
      if (args[0] === 'run') expect(o.counts, args.join(' ')).toMatchObject({ rejected: 0, missing: 0 });
      else expect(o.counts, args.join(' ')).toMatchObject({ used: 0, rejected: 0 });
    }
    // The shared cache of the main file holds more than run's own (the help, compare, sweep, trace reading).
    const size = (d: string) => readFileSync(join(dirname(BUILT_CLI), 'code-cache', d, 'migsim-main.js.v8')).length;
    expect(size('run')).toBeLessThan(size('.'));
  }, 120_000);

  it("runs the commands that import() an ES-module package (report: vega; sweep on threads: tinypool) from the cache's code as from Node's", async () => {
    const cli = (dir: string, mode: string, ...args: string[]) => promisify(execFile)(process.execPath, [join(dir, 'migsim.js'), ...args], { cwd: work, env: { ...process.env, MIGSIM_CODE_CACHE: mode } });
    await cli(variants['built']!, 'off', 'record', 'hot-set', '--duration', '10ms', '--mem', '256MiB', '--seed', '1', '-o', 'guest.mst');
    await cli(variants['built']!, 'off', 'run', 'guest.mst', '--tracker', 'hap', '--record', 'run.mst');
    writeFileSync(join(work, 'grid.yaml'), 'run:\n  workload: hot-set\n  duration: 10ms\n  mem: 256MiB\naxes:\n  tracker: [hap, shadow]\n');
    const reports: string[] = [];
    for (const [variant, mode] of [['built', 'off'], ['built', 'report'], ['no cache', 'report']] as const) {
      const name = `report-${reports.length}.html`;
      const r = await cli(variants[variant]!, mode, 'report', 'run.mst', '-o', name);
      // The build runs no report: the report's own files have no cache (missing), those it shares with a run have.
      if (mode === 'report') expect(r.stderr).toMatch(variant === 'built' ? /main thread\): [1-9]\d* used, 0 rejected, \d+ missing/ : /main thread\): 0 used, 0 rejected, [1-9]\d* missing/);
      // The report names its own command line: the file's name differs, nothing else.
      reports.push(readFileSync(join(work, name), 'utf8').replaceAll(name, 'REPORT'));
      const sweep = await cli(variants[variant]!, mode, 'sweep', 'grid.yaml', '-o', `sweep-${reports.length}`, '--jobs', '2', '--format', 'jsonl');
      expect(sweep.stdout).toContain('2 of 2 runs');
    }
    expect(reports[1]).toBe(reports[0]);
    expect(reports[2]).toBe(reports[0]);
  }, 180_000);

  it('is used in a worker thread too: each thread compiles the bundle anew, through the hook its file installs', async () => {
    // The sweep's worker file, loaded in a thread as tinypool loads it; the thread ends once it has loaded.
    const script = `const { Worker } = require('node:worker_threads'); new Worker(${JSON.stringify(`const { pathToFileURL } = require('node:url'); import(pathToFileURL(${JSON.stringify(join(variants['built']!, 'sweep-worker.js'))}).href);`)}, { eval: true });`;
    const { stderr } = await promisify(execFile)(process.execPath, ['-e', script], { cwd: work, env: { ...process.env, MIGSIM_CODE_CACHE: 'report' } });
    const m = /^migsim code cache \(thread \d+\): (\d+) used, (\d+) rejected, (\d+) missing$/m.exec(stderr);
    expect(m, stderr).not.toBeNull();
    expect(Number(m![1])).toBeGreaterThan(0);
    expect([m![2], m![3]]).toEqual(['0', '0']);
  }, 60_000);
});
