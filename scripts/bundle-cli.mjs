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
// compile cache for ES modules (module.enableCompileCache came in Node 22),
// so fewer files is what is left to gain here.
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
// zstd, msgpackr's optional extractor), start worker files of their own
// (tinypool), are loaded through createRequire at run time (cli-progress),
// or are large and used by one command only (vega, vega-lite for reports).
//
// Usage: node scripts/bundle-cli.mjs [OUTDIR]   (default dist/cli; run after tsc)
import { chmodSync, existsSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
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

const EXTERNAL = ['@duckdb/node-api', '@toondepauw/node-zstd', 'msgpackr', 'tinypool', 'cli-progress', 'vega', 'vega-lite'];

/** `new URL('<relative .js>', import.meta.url)`, as tsc emits it. */
const FILE_URL = /new URL\((['"])(\.{1,2}\/[^'"]+\.js)\1, import\.meta\.url\)/g;

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
if (workers.has('migsim')) throw new Error('bundle-cli: a worker file may not be called migsim.js');

/** Points each worker URL at the worker's entry in the bundle's flat folder. */
const flatWorkerUrls = {
  name: 'flat-worker-urls',
  transform(code, id) {
    if (!id.startsWith(src) || !code.includes('import.meta.url')) return null;
    return { code: code.replace(FILE_URL, (_all, q, rel) => `new URL(${q}./${basename(rel)}${q}, import.meta.url)`), map: null };
  },
};

/** Bundles `input` into the output folder; returns the chunks written. */
async function bundle(input, checks = {}) {
  const { output } = await build({
    input,
    checks,
    platform: 'node',
    external: [/^node:/, ...EXTERNAL.map((p) => new RegExp(`^${p.replace('/', '\\/')}(/|$)`))],
    plugins: [flatWorkerUrls],
    logLevel: 'warn',
    output: { dir: outdir, format: 'esm', entryFileNames: '[name].js', chunkFileNames: 'chunk-[hash].js', sourcemap: true },
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
const chunks = [...(await bundle({ migsim: ENTRY })), ...(workers.size ? await bundle(Object.fromEntries(workers), { ineffectiveDynamicImport: false }) : [])];

// Every file URL in the output must name a file of the output.
for (const chunk of chunks) {
  const path = join(outdir, chunk.fileName);
  for (const m of readFileSync(path, 'utf8').matchAll(FILE_URL)) {
    if (!existsSync(resolve(dirname(path), m[2]))) throw new Error(`bundle-cli: ${relative(root, path)} names ${m[2]}, which is not in ${relative(root, outdir)}`);
  }
}
chmodSync(join(outdir, 'migsim.js'), 0o755);
// Which modules (paths from the project's root) each output file holds: test/cli/start-up-modules.test.ts reads it.
const modules = Object.fromEntries(chunks.map((c) => [c.fileName, c.moduleIds.filter((id) => !id.startsWith('\0')).map((id) => relative(root, id))]));
writeFileSync(join(outdir, 'bundle-modules.json'), `${JSON.stringify(modules, null, 1)}\n`);
