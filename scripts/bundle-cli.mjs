#!/usr/bin/env node
// Bundles the built CLI (dist/src, as tsc emits it) into a few files in one
// folder, dist/cli, the command `migsim` runs (package.json "bin").
//
// Why: Node 20 loads an ES module per file, and for each it resolves the
// specifier, stats and opens the file, reads the nearest package.json and
// compiles it; a run loaded about 175 files (145 of ours, commander, RxJS's
// CommonJS files through the CJS loader), which was most of a short run's
// time. Bundled, the same run loads a few dozen files, and a command still
// loads only what it uses: each `import()` in src/cli (the commands' actions,
// the lazily registered commands) stays a split point (esbuild's code
// splitting), so `migsim --help` loads no simulator and a run no report.
// Node 20 has no compile cache for ES modules (module.enableCompileCache
// came in Node 22), so fewer files is what is left to gain here.
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
import { build } from 'esbuild';

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
  setup(b) {
    b.onLoad({ filter: /\.js$/ }, (args) => {
      if (!args.path.startsWith(src)) return undefined;
      const text = readFileSync(args.path, 'utf8');
      if (!FILE_URL.test(text)) return undefined;
      FILE_URL.lastIndex = 0;
      return { contents: text.replace(FILE_URL, (_all, q, rel) => `new URL(${q}./${basename(rel)}${q}, import.meta.url)`), loader: 'js', resolveDir: dirname(args.path) };
    });
  },
};

rmSync(outdir, { recursive: true, force: true });
const result = await build({
  entryPoints: { migsim: ENTRY, ...Object.fromEntries(workers) },
  outdir,
  entryNames: '[name]',
  chunkNames: 'chunk-[hash]',
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  external: EXTERNAL,
  // CommonJS packages bundled in (commander, RxJS, cli-table3) call require()
  // for Node's built-in modules: give each output file a require of its own.
  banner: { js: "import { createRequire as __migsimCreateRequire } from 'node:module';\nconst require = __migsimCreateRequire(import.meta.url);" },
  sourcemap: 'linked',
  plugins: [flatWorkerUrls],
  logLevel: 'warning',
  metafile: true,
});

// Every file URL in the output must name a file of the output.
for (const out of Object.keys(result.metafile.outputs).filter((f) => f.endsWith('.js'))) {
  const path = resolve(root, out);
  for (const m of readFileSync(path, 'utf8').matchAll(FILE_URL)) {
    if (!existsSync(resolve(dirname(path), m[2]))) throw new Error(`bundle-cli: ${relative(root, path)} names ${m[2]}, which is not in ${relative(root, outdir)}`);
  }
}
chmodSync(join(outdir, 'migsim.js'), 0o755);
// Which modules each output file holds (test/cli/start-up-modules.test.ts reads it).
writeFileSync(join(outdir, 'bundle-meta.json'), JSON.stringify(result.metafile));
