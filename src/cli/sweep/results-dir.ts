import { appendFileSync, closeSync, fstatSync, ftruncateSync, mkdirSync, openSync, readdirSync, readFileSync, readSync } from 'node:fs';
import { join } from 'node:path';
import { PROGRAM_NAME, PROGRAM_VERSION } from '../../version.js';
import type { RunRow } from '../../sweep/run-row.js';
import type { ShardSpec } from '../../sweep/shard-partition.js';
import { FileReplacedError, writeFileAtomic } from '../../util/atomic-write.js';
import { UsageError } from '../cli-failure.js';
import { formatOfPath, type TableFormat } from './duckdb-table.js';

/**
 * A sweep's results directory:
 *
 *   sweep.json               which program made the results (checked on every run)
 *   journal-K-of-N.jsonl     shard K's runs as they finish, one JSON line each: {id, ms, row}
 *   runs-K-of-N.parquet      shard K's table (or .csv, .jsonl), written atomically when the shard ends
 *
 * The journal is what makes a sweep resumable: a line is appended as each
 * run finishes, so a sweep killed midway keeps every run it finished, and
 * run again it skips the runs found in any journal of the directory (so
 * a different sharding of the same grid reuses them too). A line cut
 * short by the kill is dropped when the journal is next opened. The
 * table is written from the journal, in grid order, once the shard's
 * runs are all there: the same rows whatever the order they finished in.
 *
 * Results of another program version are never mixed in: a directory made
 * by another version is refused (a run's figures may differ between
 * versions, and a table mixing them would look consistent).
 */
const MANIFEST = 'sweep.json';

export function shardName(s: ShardSpec): string {
  return `${s.k}-of-${s.n}`;
}

export function journalPath(dir: string, s: ShardSpec): string {
  return join(dir, `journal-${shardName(s)}.jsonl`);
}

export function tablePath(dir: string, s: ShardSpec, format: TableFormat): string {
  return join(dir, `runs-${shardName(s)}.${format}`);
}

/** The program that writes results, as the manifest names it. */
const PROGRAM = `${PROGRAM_NAME} ${PROGRAM_VERSION}`;

/** Creates the directory (and its manifest) or checks that its results are this program version's. */
export function openResultsDir(dir: string): void {
  mkdirSync(dir, { recursive: true });
  const manifest = readManifest(dir);
  if (manifest === undefined) {
    try {
      writeFileAtomic(join(dir, MANIFEST), JSON.stringify({ program: PROGRAM }, null, 2) + '\n');
      return;
    } catch (e) {
      // Shards starting together each write it: the one renamed last stands, and must be this version's too.
      if (!(e instanceof FileReplacedError)) throw e;
    }
  }
  checkProgram(dir, readManifest(dir) ?? {});
}

/** Checks a results directory that is only read (merge, query). */
export function checkResultsDir(dir: string): void {
  const manifest = readManifest(dir);
  if (manifest === undefined) throw new UsageError(`${dir}: not a sweep's results (no ${MANIFEST}); give the -o directory of migsim sweep`);
  checkProgram(dir, manifest);
}

function readManifest(dir: string): { program?: unknown } | undefined {
  let text: string;
  try {
    text = readFileSync(join(dir, MANIFEST), 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw e;
  }
  try {
    return JSON.parse(text) as { program?: unknown };
  } catch {
    throw new UsageError(`${join(dir, MANIFEST)}: not valid JSON; this directory's results cannot be trusted: give a new -o directory`);
  }
}

function checkProgram(dir: string, manifest: { program?: unknown }): void {
  if (manifest.program !== PROGRAM) {
    throw new UsageError(`${dir}: its results were made by ${String(manifest.program)}, and this is ${PROGRAM}: a run's figures may differ between versions, so they are not mixed; give a new -o directory (or remove this one)`);
  }
}

export interface JournalEntry {
  readonly id: string;
  readonly ms: number;
  readonly row: RunRow;
}

/** Every run in the directory's journals, by id (the first line of an id wins). */
export function readJournals(dir: string): Map<string, JournalEntry> {
  const out = new Map<string, JournalEntry>();
  for (const f of journalFiles(dir)) {
    for (const line of readFileSync(f, 'utf8').split('\n')) {
      if (!line) continue;
      let e: JournalEntry;
      try {
        e = JSON.parse(line) as JournalEntry;
      } catch {
        // A line cut short by a kill: its run is done again.
        continue;
      }
      if (typeof e?.id === 'string' && e.row && !out.has(e.id)) out.set(e.id, e);
    }
  }
  return out;
}

export function journalFiles(dir: string): string[] {
  return names(dir)
    .filter((n) => /^journal-\d+-of-\d+\.jsonl$/.test(n))
    .map((n) => join(dir, n));
}

/** The shards' table files in the directory (any format). */
export function tableFiles(dir: string): string[] {
  return names(dir)
    .filter((n) => /^runs-\d+-of-\d+\.(parquet|csv|jsonl)$/.test(n) && formatOfPath(n))
    .map((n) => join(dir, n));
}

function names(dir: string): string[] {
  return readdirSync(dir).sort();
}

/**
 * Opens a journal for appending: a last line without its newline (the
 * process was killed while writing it) is cut off first, so the next
 * line starts on a line of its own.
 */
export function openJournal(path: string): (e: JournalEntry) => void {
  const fd = openSync(path, 'a+');
  try {
    const size = fstatSync(fd).size;
    if (size > 0) {
      const tail = Buffer.alloc(Math.min(size, 1 << 20));
      readSync(fd, tail, 0, tail.length, size - tail.length);
      const lastNewline = tail.lastIndexOf(0x0a);
      if (lastNewline !== tail.length - 1) ftruncateSync(fd, lastNewline < 0 ? Math.max(0, size - tail.length) : size - tail.length + lastNewline + 1);
    }
  } finally {
    closeSync(fd);
  }
  return (e) => appendFileSync(path, JSON.stringify(e) + '\n');
}
