#!/usr/bin/env node
// Bundles the built CLI (dist/src, as tsc emits it) into a few files in one
// folder, dist/cli, the command `migsim` runs (package.json "bin").
//
// Why: Node 20 loads an ES module per file, and for each it resolves the
// specifier, stats and opens the file, reads the nearest package.json and
// compiles it; a run loaded about 175 files (145 of ours, commander, RxJS's
// CommonJS files through the CJS loader), which was most of a short run's
// time. Bundled, the same run loads 25 files and `--help` 6, and a command
// still loads only what it uses: each `import()` in src/cli (the commands'
// actions, the lazily registered commands) stays a split point, so
// `migsim --help` loads no simulator and a run no report. Node 20 has no
// compile cache for ES modules (module.enableCompileCache came in Node 22);
// fewer files was the first thing to gain, a code cache the second:
//
// The bundle is CommonJS (dist/cli/package.json says so), so that each of
// its files can be compiled through vm.Script with the bytecode V8 made of
// it at build time (src/cli/code-cache.cts). Measured on a 10 ms run (2
// cores at load 6-11, 31 pairs): 0.85x the CPU of the ES-module bundle, of
// which the cache itself 0.95x (against MIGSIM_CODE_CACHE=off: V8 takes
// about as long to deserialise the cache as to pre-parse the source, and
// saves the lazy compiles) and CommonJS's loader the rest. Each entry is a small file of this script's own, named as users and
// workers call it (migsim.js, compare-worker.js, ...), that installs the
// cache's hook in its thread and then requires the bundled entry
// (migsim-main.js, ...). Last, this script runs a few commands with
// MIGSIM_CODE_CACHE=write, one after another, each adding the functions it
// ran to the caches in dist/cli/code-cache; users' runs only read them.
//
// Rolldown (the bundler Vite, and so vitest, already installs: no package
// beyond those) rather than esbuild: esbuild's code splitting makes a chunk
// for every set of entry points that shares a module, and gave a run 42
// files and --help 20; Rolldown merges them, and the fewer files cost about
// 0.85x the CPU above bare node for a run and 0.7x for --help.
//
// Worker threads: a module names its worker's file as
// `new URL('./x-worker.js', import.meta.url)` (the compare's worker, the
// sweep's). Every such file becomes an entry of the bundle of its own, with
// the same base name in the same flat folder, and the URL is rewritten to
// `./x-worker.js`, so it resolves from whichever chunk the code lands in.
// The check at the end fails the build if any `new URL(..., import.meta.url)`
// of the output names a file the bundle does not have.
//
// Packages stay outside the bundle when they carry native code (DuckDB,
// zstd), start worker files of their own
// (tinypool), are loaded through createRequire at run time (cli-progress),
// or are large and used by one command only (vega, vega-lite for reports).
//
// Usage: node scripts/bundle-cli.mjs [OUTDIR]   (default dist/cli; run after tsc)
import { execFileSync } from 'node:child_process';
import { chmodSync, copyFileSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { basename, dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'rolldown';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const src = join(root, 'dist', 'src');
const outdir = resolve(process.argv[2] ?? join(root, 'dist', 'cli'));
const ENTRY = join(src, 'cli', 'bin.js');
if (!existsSync(ENTRY)) {
  console.error(`bundle-cli: ${relative(root, ENTRY)} is missing: run tsc -p tsconfig.json first`);
  process.exit(2);
}

const EXTERNAL = ['@duckdb/node-api', '@toondepauw/node-zstd', 'tinypool', 'cli-progress', 'vega', 'vega-lite'];

/**
 * msgpackr (trace records) is bundled from its plain-JavaScript build
 * (index.js, what its package serves browsers), not its Node build
 * (dist/node.cjs): the same Packr, Unpackr and extensions, without the
 * optional native string extractor and streams. Loading the Node build
 * probed for the extractor (node-gyp-build, detect-libc, which loads
 * child_process and inspects the C library) and compiled 105 KB outside
 * the code cache: 60-90 ms of every command that reads or writes a trace
 * (17-24 ms with the extractor disabled), where a replay of a 10 ms trace
 * is about 0.1 s of work. The extractor speeds up long strings; a trace's
 * records carry numbers and byte columns, and a few short strings.
 */
const MSGPACKR_PLAIN = join(dirname(dirname(createRequire(import.meta.url).resolve('msgpackr'))), 'index.js');
const msgpackrPlain = {
  name: 'msgpackr-plain',
  resolveId(source) {
    return source === 'msgpackr' ? MSGPACKR_PLAIN : null;
  },
};

/** `new URL('<relative .js>', import.meta.url)`, as tsc emits it. */
const FILE_URL = /new URL\((['"])(\.{1,2}\/[^'"]+\.js)\1, import\.meta\.url\)/g;
/** The same in Rolldown's CommonJS output. */
const OUTPUT_FILE_URL = /new URL\((['"])(\.{1,2}\/[^'"]+\.js)\1, require\("url"\)\.pathToFileURL\(__filename\)\.href\)/g;
/** The bundled entry of `name` (migsim, or a worker), which the file `name`.js users and threads start loads. */
const mainOf = (name) => `${name}-main`;

/** Every .js file below `dir`. */
function jsFiles(dir) {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? jsFiles(join(dir, e.name)) : e.name.endsWith('.js') ? [join(dir, e.name)] : []));
}

// The worker files the modules name, each an entry under its base name.
const workers = new Map(); // base name without .js -> absolute path
for (const file of jsFiles(src)) {
  for (const m of readFileSync(file, 'utf8').matchAll(FILE_URL)) {
    const target = resolve(dirname(file), m[2]);
    const name = basename(target, '.js');
    if (workers.has(name) && workers.get(name) !== target) throw new Error(`bundle-cli: two worker files named ${name}.js (${workers.get(name)}, ${target}): the bundle's folder is flat`);
    if (!existsSync(target)) throw new Error(`bundle-cli: ${relative(root, file)} names ${m[2]}, which tsc did not emit`);
    workers.set(name, target);
  }
}
if (workers.has('migsim') || [...workers.keys()].some((w) => w.endsWith('-main'))) throw new Error('bundle-cli: a worker file may not be called migsim.js or *-main.js');

/** Points each worker URL at the worker's entry in the bundle's flat folder. */
const flatWorkerUrls = {
  name: 'flat-worker-urls',
  transform(code, id) {
    if (!id.startsWith(src) || !code.includes('import.meta.url')) return null;
    return { code: code.replace(FILE_URL, (_all, q, rel) => `new URL(${q}./${basename(rel)}${q}, import.meta.url)`), map: null };
  },
};

/**
 * `import('<package>')` of a package left outside, as tsc emits it. The
 * bundle's files are compiled through vm.Script (src/cli/code-cache.cts),
 * where import() has no callback to call: each becomes a call of
 * code-cache.js's importModule, which Node compiles itself.
 */
const CODE_CACHE_ID = 'migsim:code-cache';
const PACKAGE_IMPORT = /\bimport\((['"])([^'"./][^'"]*)\1\)/g;
const isExternal = (spec) => spec.startsWith('node:') || EXTERNAL.some((p) => spec === p || spec.startsWith(`${p}/`));
const importsThroughNode = {
  name: 'imports-through-node',
  transform(code, id) {
    if (!id.startsWith(src) || !code.includes('import(')) return null;
    // Line by line, leaving comments' lines as they are.
    const out = code
      .split('\n')
      .map((line) => (/^\s*(\*|\/\/)/.test(line) ? line : line.replace(PACKAGE_IMPORT, (all, q, spec) => (isExternal(spec) ? `require('${CODE_CACHE_ID}').importModule(${q}${spec}${q})` : all))))
      .join('\n');
    return out === code ? null : { code: out, map: null };
  },
};
/**
 * Commander requires node:child_process at its top, for executable
 * subcommands (`git-style` commands in files of their own), which migsim
 * has none of; loading it loads net, dgram and child_process's internals,
 * 1.5-2 ms of every start. Here it is required when commander first
 * spawns, which it never does for migsim. The build fails if commander's
 * line changes, so that an upgrade is looked at rather than silently
 * loading it again.
 */
const COMMANDER_CHILD_PROCESS = "const childProcess = require('node:child_process');";
const lazyCommanderChildProcess = {
  name: 'lazy-commander-child-process',
  transform(code, id) {
    if (!/[\\/]commander[\\/]lib[\\/]command\.js$/.test(id)) return null;
    if (!code.includes(COMMANDER_CHILD_PROCESS)) throw new Error(`bundle-cli: commander's lib/command.js no longer has \`${COMMANDER_CHILD_PROCESS}\`: update lazy-commander-child-process`);
    return { code: code.replace(COMMANDER_CHILD_PROCESS, "const childProcess = { get spawn() { return require('node:child_process').spawn; } };"), map: null };
  },
};
/**
 * A dynamic import left in the output: a string or template after `import(`,
 * on a line that is not a comment's (`*`, `//`, or a one-line `/** ... *\/`:
 * a bundled package's JSDoc names types as `{import('./types.js').T}`).
 */
const OUTPUT_IMPORT = /^(?!\s*(?:\*|\/\/|\/\*[^\n]*\*\/\s*$)).*[^\w.$]import\(\s*['"`]/m;

/** Bundles `input` into the output folder; returns the chunks written. */
async function bundle(input, checks = {}) {
  const { output } = await build({
    input,
    checks,
    platform: 'node',
    external: [/^node:/, CODE_CACHE_ID, ...EXTERNAL.map((p) => new RegExp(`^${p.replace('/', '\\/')}(/|$)`))],
    plugins: [msgpackrPlain, flatWorkerUrls, importsThroughNode, lazyCommanderChildProcess],
    logLevel: 'warn',
    output: { dir: outdir, format: 'cjs', strict: true, comments: false, paths: { [CODE_CACHE_ID]: './code-cache.js' }, entryFileNames: '[name].js', chunkFileNames: 'chunk-[hash].js', sourcemap: true },
  });
  return output.filter((o) => o.type === 'chunk');
}

rmSync(outdir, { recursive: true, force: true });
// The command and the workers are bundled apart: modules shared between the
// command's own entry and a worker's would otherwise be cut into more,
// smaller chunks (a run loaded 42 files instead of 25). A worker is a thread
// of its own that loads its modules again anyway; files the two bundles
// both write have the same content, as the names are hashes of it. (In a
// worker a dynamic import that is also static somewhere splits nothing, and
// that is fine: it loads what it imports; the command's own bundle still
// warns of one, as there it would load a module at start that a split
// point meant to leave for later.)
const chunks = [
  ...(await bundle({ [mainOf('migsim')]: ENTRY })),
  ...(workers.size ? await bundle(Object.fromEntries([...workers].map(([name, path]) => [mainOf(name), path])), { ineffectiveDynamicImport: false }) : []),
];

// Every file of the bundle ASCII: V8 keeps a source with any other character
// as two bytes a character, and src/cli/code-cache.cts decodes an ASCII file
// as Latin-1, with no UTF-8 pass. A few files hold other characters (a
// comment's arrow, units' µ, cli-table3's box drawing), each written here as
// a \u escape, which means the same character in a string, template,
// regular expression or identifier and is harmless in a comment. (Not in a
// String.raw template, whose raw text would change: the build fails on one.)
// Source maps keep their columns except after such a character on its line.
for (const chunk of chunks) {
  const path = join(outdir, chunk.fileName);
  const code = readFileSync(path, 'utf8');
  if (/^[\x00-\x7f]*$/.test(code)) continue;
  if (/\bString\.raw\b/.test(code)) throw new Error(`bundle-cli: ${relative(root, path)} has a String.raw template and characters outside ASCII: escaping them could change its raw text`);
  writeFileSync(path, code.replace(/[^\x00-\x7f]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`));
}

// The folder's files are CommonJS, whatever the project's package.json says.
writeFileSync(join(outdir, 'package.json'), '{ "type": "commonjs" }\n');
const CODE_CACHE = join(src, 'cli', 'code-cache.cjs');
if (!existsSync(CODE_CACHE)) throw new Error(`bundle-cli: ${relative(root, CODE_CACHE)} is missing: run tsc -p tsconfig.json first`);
copyFileSync(CODE_CACHE, join(outdir, 'code-cache.js'));
// The files users and threads start: V8's tiering flag, the cache's hook,
// then the bundled entry.
//
// V8 optimises a function with TurboFan once it has run for its interrupt
// budget (67,584 bytecode bytes in Node 20's V8). A short run made it
// optimise tens of functions it then barely used: TurboFan was 153 M of
// the 860 M instructions of a 10 ms run (valgrind), on background threads
// that compete with the main one on a busy machine. Four times the budget:
// about 80 M fewer instructions for that run, and 0.88x the CPU of a 10 s
// apache run (11 pairs, both without the code cache), whose hot loops still
// reach TurboFan within milliseconds but fewer short-lived functions get
// optimised and thrown away. Set here, before the first file is compiled,
// and so also for the build's training: V8's cache is keyed on its flags,
// and the caches are written under the same one.
const V8_FLAGS = '--interrupt-budget=270336';
const starts = ['migsim', ...workers.keys()];
for (const name of starts) {
  // A worker's exports through a variable, not `module.exports = require(...)`:
  // tinypool import()s its worker's file, and Node's ES-module loader runs
  // its CommonJS export lexer over that file and over any file it re-exports
  // that way, here the whole bundled worker (650 KB, 0.1-0.15 s of a sweep
  // worker's CPU at its start, --cpu-prof: cjs-module-lexer's parseCJS).
  // tinypool takes the default export (module.exports), which needs no lexing.
  const load = name === 'migsim' ? `require('./${mainOf(name)}.js');` : `const main = require('./${mainOf(name)}.js');\nmodule.exports = main;`;
  writeFileSync(
    join(outdir, `${name}.js`),
    `${name === 'migsim' ? '#!/usr/bin/env node\n' : ''}'use strict';\n// Made by scripts/bundle-cli.mjs: sets V8's tiering (V8_FLAGS there), then compiles the bundle through its code cache (src/cli/code-cache.cts${name === 'migsim' ? ", the command's own where it has them" : ''}).\nrequire('node:v8').setFlagsFromString('${V8_FLAGS}');\nrequire('./code-cache.js').installCodeCache(__dirname${name === 'migsim' ? ", process.argv.slice(2).find((a) => !a.startsWith('-'))" : ''});\n${load}\n`,
  );
}

// Every file URL in the output must name a file of the output, and no import() may be left.
for (const chunk of chunks) {
  const path = join(outdir, chunk.fileName);
  const left = OUTPUT_IMPORT.exec(readFileSync(path, 'utf8'));
  if (left) throw new Error(`bundle-cli: ${relative(root, path)} still has an import() (${left[0].trim().slice(0, 120)}), which code compiled through the code cache cannot run: rewrite it in imports-through-node`);
  for (const m of readFileSync(path, 'utf8').matchAll(OUTPUT_FILE_URL)) {
    if (!existsSync(resolve(dirname(path), m[2]))) throw new Error(`bundle-cli: ${relative(root, path)} names ${m[2]}, which is not in ${relative(root, outdir)}`);
  }
}
chmodSync(join(outdir, 'migsim.js'), 0o755);
// Which modules (paths from the project's root) each output file holds: test/cli/start-up-modules.test.ts reads it.
const modules = {
  ...Object.fromEntries(starts.map((name) => [`${name}.js`, []])),
  'code-cache.js': [relative(root, CODE_CACHE)],
  ...Object.fromEntries(chunks.map((c) => [c.fileName, c.moduleIds.filter((id) => !id.startsWith('\0')).map((id) => relative(root, id))])),
};
writeFileSync(join(outdir, 'bundle-modules.json'), `${JSON.stringify(modules, null, 1)}\n`);

// The code cache: commands that between them run what users run most
// (start-up, the help, a run as JSON and as text, a comparison on threads,
// a trace written, read, inspected and replayed, a small sweep on a worker), each
// after the last, as each adds to the caches the one before wrote. The
// functions a command runs are compiled when it runs them: a file's cache
// holds those of every command that loaded the file.
const TRAINING = [
  ['--help'],
  ['run', '--help'],
  ['run', 'hot-set', '--tracker', 'hap', '--duration', '10ms', '--round', '5ms', '--mem', '256MiB', '--seed', '1', '--json'],
  ['run', 'apache', '--tracker', 'shadow', '--duration', '20ms', '--seed', '1'],
  ['record', 'apache', '--duration', '50ms', '--seed', '1', '-o', 'training.mst'],
  ['run', 'training.mst', '--tracker', 'pml', '--json'],
  ['inspect', 'training.mst'],
  // A trace of 4 MiB or more (6 MB), read on the read-ahead thread: its file's
  // cache then holds the decoding, and a bundle whose thread cannot start
  // fails the build (it once failed every such read with exit 70).
  ['record', 'hot-set', '--duration', '3s', '--seed', '1', '-o', 'training-big.mst'],
  ['inspect', 'training-big.mst'],
  ['replay', 'training.mst'],
  ['compare', 'apache', '--duration', '20ms', '--seed', '1', '--json'],
  // Parquet, the default: the shard's table is written in JavaScript (src/cli/sweep/parquet-rows.ts), whose functions the cache then holds.
  ['sweep', 'grid.yaml', '-o', 'results', '--jobs', '2'],
];
const training = mkdtempSync(join(tmpdir(), 'migsim-code-cache-'));
try {
  writeFileSync(join(training, 'grid.yaml'), 'run:\n  workload: hot-set\n  duration: 50ms\n  mem: 256MiB\naxes:\n  tracker: [hap, pml, shadow]\n  seed: {count: 2}\n');
  const env = { ...process.env, MIGSIM_CODE_CACHE: 'write' };
  // First each worker's file, loaded in a thread of its own (a command may
  // start none: compare only with a core free, the trace read-ahead only for
  // a file of 4 MiB or more): a thread writes each file's cache once its top
  // level has run, so its loading at least is cached. First, as a command
  // run after it adds to these caches.
  const workerFiles = [...workers.keys()].map((name) => join(outdir, `${name}.js`));
  execFileSync(process.execPath, ['-e', `const { Worker } = require('node:worker_threads');\nfor (const f of ${JSON.stringify(workerFiles)}) { const w = new Worker(f); w.on('error', () => {}); setTimeout(() => w.terminate(), 2000); }`], { cwd: training, stdio: ['ignore', 'ignore', 'pipe'], env });
  for (const args of TRAINING) {
    execFileSync(process.execPath, [join(outdir, 'migsim.js'), ...args], { cwd: training, stdio: ['ignore', 'ignore', 'pipe'], env });
  }
  // Then the caches of the commands that have their own (OWN_CACHE_COMMANDS
  // in src/cli/code-cache.cts), from their own runs alone: a run's files
  // then hold the functions runs ran, not compare's, sweep's or the help's.
  for (const args of TRAINING.filter(([command]) => command === 'run')) {
    execFileSync(process.execPath, [join(outdir, 'migsim.js'), ...args], { cwd: training, stdio: ['ignore', 'ignore', 'pipe'], env: { ...env, MIGSIM_CODE_CACHE: 'write-own' } });
  }
} finally {
  rmSync(training, { recursive: true, force: true });
  // A thread ended while it wrote leaves its temporary behind.
  for (const d of [join(outdir, 'code-cache'), join(outdir, 'code-cache', 'run')]) {
    if (existsSync(d)) for (const f of readdirSync(d)) if (f.endsWith('.tmp')) rmSync(join(d, f));
  }
}
