// Start-up loads only what the command uses (issue 16): `migsim --help`
// loads commander and the commands' options, not the simulator, the trace
// codec (msgpackr, zod), the importers or the report's vega; a run of a
// built-in workload with the default costs loads the simulator but none of
// the trace codec, the schemas, the importers or the report, and of RxJS
// only the modules it uses, not its index. Checked by the list of modules
// the built CLI loads (a loader hook records each), never by time: for the
// CLI as tsc emits it (one module a file) and for the bundle `migsim` runs
// (dist/cli, whose files hold the modules bundle-modules.json names), which must
// keep every lazy import a split point and load fewer files.
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { BUILT_CLI, UNBUNDLED_CLI } from '../helpers/spawn-cli.js';

const dir = mkdtempSync(join(tmpdir(), 'migsim-start-up-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

// The hook runs on Node's loader thread: it appends each ES module's URL to
// the file the environment names. CommonJS files (the bundle's, and the
// packages' it requires) are appended by a patch of CommonJS's loader
// (Module.prototype.load, which every require of a file passes through).
writeFileSync(
  join(dir, 'hooks.mjs'),
  "import { appendFileSync } from 'node:fs';\n" +
    'export async function load(url, context, next) {\n' +
    "  if (!url.startsWith('node:')) appendFileSync(process.env.MIGSIM_LOADED, url + '\\n');\n" +
    '  return next(url, context);\n' +
    '}\n',
);
writeFileSync(
  join(dir, 'register.mjs'),
  "import { appendFileSync } from 'node:fs';\n" +
    "import Module, { register } from 'node:module';\n" +
    "import { pathToFileURL } from 'node:url';\n" +
    "register('./hooks.mjs', import.meta.url);\n" +
    'const load = Module.prototype.load;\n' +
    'Module.prototype.load = function (filename) {\n' +
    "  appendFileSync(process.env.MIGSIM_LOADED, pathToFileURL(filename).href + '\\n');\n" +
    '  return load.call(this, filename);\n' +
    '};\n',
);

// Node's built-in modules a process loaded, appended at exit as `builtin:NAME`
// lines (process.moduleLoadList names each NativeModule it compiled).
writeFileSync(
  join(dir, 'builtins.cjs'),
  "process.on('exit', () => require('node:fs').appendFileSync(process.env.MIGSIM_LOADED, process.moduleLoadList.filter((m) => m.startsWith('NativeModule ')).map((m) => 'builtin:' + m.slice(13) + '\\n').join('')));\n",
);

/** The files (file URLs) `cli` loads for `args`, and the built-in modules as `builtin:NAME`. */
async function filesLoaded(cli: string, name: string, ...args: string[]): Promise<string[]> {
  const list = join(dir, `${name}.txt`);
  writeFileSync(list, '');
  // A run that ends incomplete exits 3: the modules are what matter here.
  await promisify(execFile)(process.execPath, ['--require', join(dir, 'builtins.cjs'), '--import', join(dir, 'register.mjs'), cli, ...args], { cwd: dir, env: { ...process.env, MIGSIM_LOADED: list } }).catch((e: { code?: number }) => {
    if (e.code !== 3) throw e;
  });
  // A CommonJS file an ES module imports passes both hooks.
  return [...new Set(readFileSync(list, 'utf8').split('\n').filter(Boolean))];
}

/** The modules (paths from the project's root) in each file of the bundle, as scripts/bundle-cli.mjs lists them. */
function bundleModules(): Map<string, string[]> {
  return new Map(Object.entries(JSON.parse(readFileSync(join(dirname(BUILT_CLI), 'bundle-modules.json'), 'utf8')) as Record<string, string[]>));
}

/** The modules `cli` loads for `args`: the files themselves, or for the bundle the modules in the files it loads. */
async function modulesLoaded(cli: string, name: string, ...args: string[]): Promise<string[]> {
  const files = await filesLoaded(cli, name, ...args);
  if (cli !== BUILT_CLI) return files;
  const modules = bundleModules();
  return files.flatMap((url) => (url.includes('/dist/cli/') ? modules.get(basename(url))! : [url]));
}

const packageOf = (url: string) => /(?:^|\/)node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(url)?.[1];
const sourceOf = (url: string) => /(?:^|\/)dist\/src\/(.+)\.js$/.exec(url)?.[1];

describe.each([
  ['one module a file (dist/src)', UNBUNDLED_CLI],
  ['bundled (dist/cli, the bin)', BUILT_CLI],
])('start-up, %s', (_, cli) => {
  it('migsim --help loads commander and the options, not the simulator, the trace codec, zod, the importers or vega', async () => {
    const loaded = await modulesLoaded(cli, `help-${basename(cli)}`, '--help');
    const packages = new Set(loaded.map(packageOf).filter(Boolean));
    expect([...packages].sort()).toEqual(['commander']);
    const sources = loaded.map(sourceOf).filter((s): s is string => s !== undefined);
    expect(sources).toContain('cli/main');
    for (const heavy of ['reducers/simulation', 'workloads/registry', 'trace/trace-reader', 'trace/trace-writer', 'import/rtdirty-importer', 'import/lackey-importer', 'report/render-svg', 'verify/replay']) {
      expect(sources, heavy).not.toContain(heavy);
    }
    expect(sources.filter((s) => s.startsWith('cli/actions/'))).toEqual([]);
  });

  it('a run of a built-in workload with the default costs loads the simulator, and no trace codec, schema, importer or report', async () => {
    const loaded = await modulesLoaded(cli, `run-${basename(cli)}`, 'run', 'hot-set', '--tracker', 'hap', '--duration', '10ms', '--mem', '256MiB', '--seed', '1', '--after-end', 'stop');
    const packages = new Set(loaded.map(packageOf).filter(Boolean));
    expect(packages.has('rxjs')).toBe(true);
    // RxJS's index requires all of RxJS (223 files): src/util/rx.ts imports the few modules a run uses.
    expect(loaded.filter((u) => /(?:^|\/)node_modules\/rxjs\/dist\/[^/]+\/index\.js$/.test(u))).toEqual([]);
    // cli-table3 draws the run's text summary (its rounds and exits tables), so a run loads it.
    for (const p of ['zod', 'msgpackr', 'vega', 'vega-lite', 'cli-progress']) expect(packages.has(p), p).toBe(false);
    const sources = loaded.map(sourceOf).filter((s): s is string => s !== undefined);
    expect(sources).toContain('reducers/simulation');
    expect(sources).toContain('cli/actions/run-action');
    for (const heavy of ['trace/trace-reader', 'trace/trace-writer', 'trace/trace-schemas', 'model/cost-model-file', 'api/run-spec-schema', 'import/rtdirty-importer', 'report/report-html', 'verify/replay']) {
      expect(sources, heavy).not.toContain(heavy);
    }
    expect(sources.filter((s) => s.startsWith('cli/actions/') && s !== 'cli/actions/run-action' && s !== 'cli/actions/tracker-run-inputs')).toEqual([]);
  });

  it('a run that prints JSON loads no table drawing (cli-table3), and none of node:crypto, node:child_process, node:os, node:zlib', async () => {
    // Each is loaded where it is used: a seed drawn without --seed and a migration's state digest (crypto), the
    // janitor of the first temporary file and commander's executable subcommands (child_process), compare's
    // thread plan (os), the text summary's tables (cli-table3), a trace's Brotli columns and a gzip capture
    // (zlib; the bundle's code cache compares bytes rather than take CRCs, src/cli/code-cache.cts).
    const loaded = await modulesLoaded(cli, `run-json-${basename(cli)}`, 'run', 'hot-set', '--tracker', 'hap', '--duration', '10ms', '--round', '5ms', '--mem', '256MiB', '--seed', '1', '--json');
    expect(loaded.map(sourceOf)).toContain('reducers/simulation');
    expect(new Set(loaded.map(packageOf)).has('cli-table3')).toBe(false);
    const builtins = loaded.filter((u) => u.startsWith('builtin:')).map((u) => u.slice('builtin:'.length));
    // The control: the loader's own built-ins are listed.
    expect(builtins).toContain('fs');
    // commander's own require of child_process is deferred by the bundler (scripts/bundle-cli.mjs), so only in the bundle.
    for (const b of cli === BUILT_CLI ? ['crypto', 'child_process', 'os', 'zlib'] : ['crypto', 'os']) expect(builtins, b).not.toContain(b);
  });

  it('a run whose JSON goes to a pipe (`| jq`) builds no stream for it: node:net and node:tty stay unloaded', async () => {
    // Output goes by descriptor (src/cli/stdio-write.ts); process.stdout for a pipe would be a net.Socket. Only the
    // built-in list here: the loader hooks of the other cases load node:net themselves. execFile's stdout is a pipe.
    const list = join(dir, `pipe-${basename(cli)}.txt`);
    writeFileSync(list, '');
    const args = ['run', 'hot-set', '--tracker', 'hap', '--duration', '10ms', '--round', '5ms', '--mem', '256MiB', '--seed', '1', '--json'];
    const { stdout } = await promisify(execFile)(process.execPath, ['--require', join(dir, 'builtins.cjs'), cli, ...args], { cwd: dir, env: { ...process.env, MIGSIM_LOADED: list } });
    expect(JSON.parse(stdout)).toMatchObject({ source: 'hot-set' });
    const builtins = readFileSync(list, 'utf8').split('\n').filter(Boolean).map((l) => l.slice('builtin:'.length));
    expect(builtins).toContain('fs');
    // Unbundled, commander's top-level require of child_process loads net (the bundle defers it).
    for (const b of cli === BUILT_CLI ? ['net', 'tty'] : ['tty']) expect(builtins, b).not.toContain(b);
  });

  it('the help of record still lists the workloads and a named one its parameters (loaded for it alone)', async () => {
    const loaded = await modulesLoaded(cli, `record-help-${basename(cli)}`, 'record', 'muncher', '--help');
    expect(loaded.map(sourceOf)).toContain('workloads/registry');
    const { stdout } = await promisify(execFile)(process.execPath, [cli, 'record', 'muncher', '--help']);
    expect(stdout).toContain("Workload 'muncher'");
  });
});

describe('the bundle', () => {
  it('loads fewer files than the CLI as tsc emits it, for --help and for a run', async () => {
    const run = ['run', 'hot-set', '--tracker', 'hap', '--duration', '10ms', '--round', '5ms', '--mem', '256MiB', '--seed', '1', '--json'];
    const [helpBundled, helpModules, runBundled, runModules] = await Promise.all([
      filesLoaded(BUILT_CLI, 'count-help-bundled', '--help'),
      filesLoaded(UNBUNDLED_CLI, 'count-help-modules', '--help'),
      filesLoaded(BUILT_CLI, 'count-run-bundled', ...run),
      filesLoaded(UNBUNDLED_CLI, 'count-run-modules', ...run),
    ]);
    const files = (loaded: string[]) => loaded.filter((u) => !u.startsWith('builtin:')).length;
    expect(files(helpBundled)).toBeLessThan(files(helpModules));
    expect(files(runBundled)).toBeLessThan(files(runModules));
  });
});
