/**
 * A V8 code cache for the bundled command line (dist/cli, scripts/bundle-cli.mjs).
 *
 * Why: a short run's largest cost above bare node was compiling our ~900 KB
 * of JavaScript again in every process and every worker thread (parsing,
 * then each function's bytecode the first time it runs). Node 20 has no
 * compile cache for ES modules (module.enableCompileCache came in Node 22),
 * but a CommonJS file compiled through vm.Script can be given the bytecode
 * V8 serialised earlier (`cachedData`), the way the v8-compile-cache package
 * hooks Module.prototype._compile (here: the loader of .js files, see
 * readWrapped). So the bundle is CommonJS, each entry
 * (migsim.js and every worker's file) installs this hook before it loads
 * anything else, and `npm run build` writes the caches once, after running a
 * few representative commands, so that the functions those compiled lazily
 * are in the cache too. Nothing is written when a user runs migsim.
 *
 * A cache is used only when it was made from this exact file and is whole:
 * it holds a copy of the source it was made from and V8's data twice, and
 * before V8 sees the data the copy must equal the file byte for byte and
 * the two copies of the data each other (see readCache: comparisons, which
 * run at memory speed, where a CRC-32 of each and the node:zlib it came
 * from cost a 10 ms run 8.4 M instructions on the main thread, valgrind;
 * it guards against a stale or damaged file, not an attacker,
 * who could as well edit the bundle). V8 itself checks only the source's
 * length, its own version and its flags, and deserialises damaged data as
 * it comes (Node 20's V8 stops the process on it:
 * test/cli/code-cache.test.ts; V8's own --verify-snapshot-checksum would
 * refuse it, but also checksums the whole start-up snapshot of every worker
 * thread, 70 ms each). Any other case (no cache, a cache of
 * other source or damaged, a cache V8 rejects: another Node, or flags such
 * as --max-old-space-size that change V8's flag hash) compiles the source as
 * if there were none: the same code runs, only slower.
 * MIGSIM_CODE_CACHE=off leaves compiling to Node itself.
 *
 * MIGSIM_CODE_CACHE=write (the build, and nothing else) writes each file's
 * cache when the thread that compiled it exits, and in a worker thread also
 * as soon as the file's top level has run: a pool ends its threads with
 * terminate(), which runs no exit handler, and tinypool's and the trace
 * read-ahead's threads wait for work in Atomics.wait, never in their event
 * loop, so no timer could write later (their caches then hold what loading
 * compiled; the functions they run compile as without); MIGSIM_CODE_CACHE=report
 * prints on stderr, at exit, how many caches were used, rejected or missing
 * (test/cli/code-cache.test.ts).
 */
import { isAscii } from 'node:buffer';
import { closeSync, fstatSync, mkdirSync, openSync, readSync, renameSync, writeFileSync } from 'node:fs';
import Module = require('node:module');
import { basename, dirname, join } from 'node:path';
import { Script } from 'node:vm';
// node:worker_threads (1-7 ms to load) only where the build writes or a test asks for the report.
type WorkerThreads = typeof import('node:worker_threads');
const workerThreads = (): WorkerThreads => require('node:worker_threads') as WorkerThreads;

/** The folder, beside the bundle's files, of their caches: `<file>.v8` for each. */
export const CODE_CACHE_DIR = 'code-cache';

/**
 * A cache file: this tag, the byte length of the source it was made from
 * and of V8's data (each 4 bytes, little-endian), then the source, then
 * V8's data, then V8's data again.
 */
const MAGIC = Buffer.from('migsim-v8-5\n');
const HEADER_BYTES = MAGIC.length + 8;

/** What MIGSIM_CODE_CACHE=report prints: how each file compiled through the hook found its cache. */
export interface CodeCacheCounts {
  used: number;
  /** Present but not for this source (another copy of the source, a bad header, unequal copies of the data), or refused by V8. */
  rejected: number;
  missing: number;
}

interface CompiledFile {
  readonly script: Script;
  /** The file's bytes (the build keeps them to write with the cache; a user's run drops them once compared). */
  readonly bytes?: Buffer;
}

/** Node's loader of one kind of file, as Module.prototype.load calls it (not in @types/node). */
type LoadMethod = (this: unknown, module: Module, filename: string) => void;

/** The wrapper Node's loader puts around a CommonJS file, its first line a line of its own. */
const WRAP_HEAD = Buffer.from('(function (exports, require, module, __filename, __dirname) {\n');
const WRAP_TAIL = Buffer.from('\n})');

/**
 * The file, read once, inside the wrapper, as the string V8 compiles, and
 * the file's bytes (valid until the next file is read). Node's own loader
 * reads a file as a UTF-8 string, which the wrapper then copies again:
 * copies of 0.9 MB of source on a run's young heap, and its scavenges. Here
 * the file is read into a buffer already holding the wrapper, compared
 * with its cache's copy as bytes, and one string made, one byte a
 * character when the file is ASCII (the bundle's files are: see
 * scripts/bundle-cli.mjs). A leading #! line becomes a comment of the same
 * length (after the bytes are taken: the cache's copy is of the file).
 */
function readWrapped(filename: string): { source: string; file: Buffer } {
  const fd = openSync(filename, 'r');
  let bytes: Buffer;
  try {
    const size = fstatSync(fd).size;
    bytes = sourceScratch.take(WRAP_HEAD.length + size + WRAP_TAIL.length);
    WRAP_HEAD.copy(bytes, 0);
    readFully(fd, filename, bytes.subarray(WRAP_HEAD.length, WRAP_HEAD.length + size));
    WRAP_TAIL.copy(bytes, WRAP_HEAD.length + size);
  } finally {
    closeSync(fd);
  }
  const file = bytes.subarray(WRAP_HEAD.length, bytes.length - WRAP_TAIL.length);
  const hashBang = file[0] === 0x23 && file[1] === 0x21;
  if (hashBang) file.write('//', 0, 'latin1');
  const source = bytes.toString(isAscii(bytes) ? 'latin1' : 'utf8');
  if (hashBang) file.write('#!', 0, 'latin1');
  return { source, file };
}

/**
 * A buffer reused for every file of one kind (sources, caches), grown to
 * the largest: loading a run's 0.6 MB of source and 0.75 MB of caches then
 * touches fresh memory only for the largest of each, where a buffer a file
 * made every page of them fresh (and a fresh page costs 10-20 us on a busy
 * virtual machine). What `take` returns is valid until the next file is
 * read: V8 copies a source into the string it compiles, and reads a cache
 * only while it compiles (new Script returns after both).
 */
class Scratch {
  private buffer = Buffer.alloc(0);

  take(bytes: number): Buffer {
    if (this.buffer.length < bytes) this.buffer = Buffer.allocUnsafe(Math.max(bytes, this.buffer.length * 2));
    return this.buffer.subarray(0, bytes);
  }
}
const sourceScratch = new Scratch();
const cacheScratch = new Scratch();
const headerScratch = new Scratch();
/** Bytes of a cache's copy read and compared at a time (matchesPart). */
const COMPARE_SLICE = 64 * 1024;
const sliceScratch = new Scratch();

/** Fills `into` from the start of the open file (`name` for the message). */
function readFully(fd: number, name: string, into: Buffer): void {
  for (let at = 0; at < into.length; ) {
    const n = readSync(fd, into, at, into.length - at, null);
    if (n === 0) throw new Error(`code cache: ${name} ended after ${at} of its ${into.length} bytes`);
    at += n;
  }
}

/** A module's `require`, as Node's loader gives one to each CommonJS file. */
function requireFor(module: Module): NodeJS.Require {
  const loader = Module as unknown as { _resolveFilename(request: string, parent: Module, isMain: boolean, options?: { paths?: string[] }): string; _resolveLookupPaths(request: string, parent: Module): string[] | null; _cache: NodeJS.Dict<NodeModule>; _extensions: NodeJS.RequireExtensions };
  const require = ((id: string) => module.require(id)) as NodeJS.Require;
  const resolve = ((request: string, options?: { paths?: string[] }) => loader._resolveFilename(request, module, false, options)) as NodeJS.RequireResolve;
  resolve.paths = (request: string) => loader._resolveLookupPaths(request, module);
  require.resolve = resolve;
  require.main = process.mainModule;
  require.cache = loader._cache;
  require.extensions = loader._extensions;
  return require;
}

/** The file's cache when it was made from `file`'s bytes and is whole; otherwise why not. */
function readCache(cacheFile: string, file: Buffer): Buffer | 'missing' | 'rejected' {
  let fd: number;
  try {
    fd = openSync(cacheFile, 'r');
  } catch {
    // None, or not readable: the file compiles without.
    return 'missing';
  }
  try {
    const header = readPart(fd, HEADER_BYTES, headerScratch);
    const sourceBytes = header.readUInt32LE(MAGIC.length);
    const dataBytes = header.readUInt32LE(MAGIC.length + 4);
    const whole = header.subarray(0, MAGIC.length).equals(MAGIC) && sourceBytes === file.length && dataBytes > 0 && fstatSync(fd).size === HEADER_BYTES + sourceBytes + 2 * dataBytes;
    if (!whole || !matchesPart(fd, file)) return 'rejected';
    const data = readPart(fd, dataBytes, cacheScratch);
    return matchesPart(fd, data) ? data : 'rejected';
  } catch {
    // Not readable (a folder, cut short since its size was taken): the file compiles without.
    return 'missing';
  } finally {
    closeSync(fd);
  }
}

/** The next `bytes` of the open file, in `scratch`'s buffer. */
function readPart(fd: number, bytes: number, scratch: Scratch): Buffer {
  const into = scratch.take(bytes);
  readFully(fd, 'code cache', into);
  return into;
}

/**
 * Whether the open file's next `expected.length` bytes are `expected`'s,
 * read and compared a slice at a time: the copies a cache holds (of its
 * source, of V8's data) then need no buffer of their size, whose fresh
 * pages would cost more (10-20 us each) than the reads.
 */
function matchesPart(fd: number, expected: Buffer): boolean {
  for (let at = 0; at < expected.length; at += COMPARE_SLICE) {
    const n = Math.min(COMPARE_SLICE, expected.length - at);
    if (!readPart(fd, n, sliceScratch).equals(expected.subarray(at, at + n))) return false;
  }
  return true;
}

/**
 * `import(specifier)`, for the bundle's files: code compiled through
 * vm.Script cannot import() (Node 20 finds no import callback for a script
 * compiled from a cache, and vm's own is experimental and warns), so
 * scripts/bundle-cli.mjs rewrites each import() of an ES-module package
 * (vega, tinypool) to call this, in a file Node compiles itself. A bare
 * specifier resolves from this file's folder, as from the bundle's.
 */
export function importModule(specifier: string): Promise<unknown> {
  return import(specifier);
}

/**
 * Commands with caches of their own, `code-cache/<command>/`, made by the
 * build from that command's runs alone (scripts/bundle-cli.mjs). A file's
 * shared cache holds every function any trained command ran in it (the
 * help, compare, sweep, trace reading, every tracker), all deserialised
 * into the heap when the file loads: for the 10 ms `run hot-set ... --json`
 * run's own caches fault about 230 fewer fresh pages (4,566 against 4,798,
 * median of 5; 10-20 us each here), 0.98x the CPU and 0.96x the wall time
 * (farm-bench, 41 pairs). A file a command's own caches lack is read from
 * the shared ones. Cost: 2.9 MB more in dist/cli.
 */
export const OWN_CACHE_COMMANDS: readonly string[] = ['run'];

/**
 * Compiles every CommonJS file of `dir` (the bundle's folder; not its
 * subfolders, not node_modules) through vm.Script with its cache: the
 * caches of `command` (the command line's first word, in the main thread)
 * when it has its own, else the shared ones. Call it once per thread,
 * first: a file loaded before it compiles without.
 *
 * MIGSIM_CODE_CACHE=write-own (the build) writes the command's own caches
 * and reads no shared one: a cache read is serialised again with all it
 * held, so they must grow from that command's runs alone.
 */
export function installCodeCache(dir: string, command?: string): void {
  const mode = process.env.MIGSIM_CODE_CACHE;
  if (mode === 'off') return;
  const sharedDir = join(dir, CODE_CACHE_DIR);
  const ownDir = command !== undefined && OWN_CACHE_COMMANDS.includes(command) ? join(sharedDir, command) : undefined;
  if (mode === 'write-own' && ownDir === undefined) throw new Error(`code cache: MIGSIM_CODE_CACHE=write-own for ${command ?? 'a thread'}, which has no caches of its own`);
  const writing = mode === 'write' || mode === 'write-own';
  const cacheDir = mode === 'write-own' ? ownDir! : sharedDir;
  const readDirs = mode === 'write-own' ? [ownDir!] : ownDir !== undefined ? [ownDir, sharedDir] : [sharedDir];
  const counts: CodeCacheCounts = { used: 0, rejected: 0, missing: 0 };
  const compiled = new Map<string, CompiledFile>();
  const extensions = (Module as unknown as { _extensions: Record<string, LoadMethod> })._extensions;
  const nodeLoad = extensions['.js']!;
  extensions['.js'] = function loadWithCache(this: unknown, module: Module, filename: string): void {
    if (dirname(filename) !== dir) return nodeLoad.call(this, module, filename);
    const { source, file: fileBytes } = readWrapped(filename);
    let cachedData: Buffer | undefined;
    let why: 'missing' | 'rejected' = 'missing';
    for (const d of readDirs) {
      const r = readCache(join(d, `${basename(filename)}.v8`), fileBytes);
      if (r === 'missing') continue;
      if (r === 'rejected') why = r;
      else cachedData = r;
      break;
    }
    if (!cachedData) counts[why]++;
    // lineOffset -1: the wrapper's line, so that stack traces keep the file's lines and columns.
    const script = new Script(source, {
      filename,
      lineOffset: -1,
      ...(cachedData ? { cachedData } : {}),
    });
    if (cachedData) {
      if (script.cachedDataRejected) counts.rejected++;
      else counts.used++;
    }
    const file: CompiledFile = writing ? { script, bytes: Buffer.from(fileBytes) } : { script };
    compiled.set(filename, file);
    const wrapper = script.runInThisContext({ displayErrors: true }) as (exports: unknown, require: NodeJS.Require, module: Module, filename: string, dirname: string) => unknown;
    wrapper.call(module.exports, module.exports, requireFor(module), module, filename, dir);
    if (writing && !workerThreads().isMainThread) writeCaches(cacheDir, new Map([[filename, file]]));
  };
  if (writing) process.on('exit', () => writeCaches(cacheDir, compiled));
  if (mode === 'report') process.on('exit', () => process.stderr.write(`migsim code cache (${workerThreads().isMainThread ? 'main thread' : `thread ${workerThreads().threadId}`}): ${counts.used} used, ${counts.rejected} rejected, ${counts.missing} missing\n`));
}

/**
 * Writes each compiled file's cache as it stands now, with the functions
 * run so far. A cache read at the start of this process is part of what
 * V8 serialises again, so the build's commands, run one after another, add
 * up. Written through a temporary of this thread's own and a rename: two
 * threads that compiled the same file each write a whole cache.
 */
function writeCaches(cacheDir: string, compiled: ReadonlyMap<string, CompiledFile>): void {
  mkdirSync(cacheDir, { recursive: true });
  for (const [filename, { script, bytes }] of compiled) {
    const target = join(cacheDir, `${basename(filename)}.v8`);
    const temporary = `${target}.${process.pid}-${workerThreads().threadId}.tmp`;
    const data = script.createCachedData();
    const header = Buffer.alloc(8);
    header.writeUInt32LE(bytes!.length, 0);
    header.writeUInt32LE(data.length, 4);
    writeFileSync(temporary, Buffer.concat([MAGIC, header, bytes!, data, data]));
    renameSync(temporary, target);
  }
}
