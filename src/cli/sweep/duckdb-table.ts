import { readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import type { DuckDBConnection } from '@duckdb/node-api';
import { columnType, type RunRow, tableColumns } from '../../sweep/run-row.js';
import { writeFileAtomic } from '../../util/atomic-write.js';
import { createScratchFile, removeTemporary } from '../../util/temporary-files.js';
import { parquetOfRows } from './parquet-rows.js';

/**
 * A sweep's tables through DuckDB (@duckdb/node-api; its engine ships in
 * the npm package as a native addon, so nothing downloads at install or
 * run time): merged, queried, and a shard's CSV. A shard's Parquet file
 * is written in JavaScript (parquet-rows.ts): loading DuckDB's engine for
 * it cost every sweep a quarter of a second of CPU at its end.
 *
 * Every file goes out through writeFileAtomic: DuckDB writes a scratch
 * file of this process's (a temporary, src/util/temporary-files.ts), whose
 * bytes are then written and renamed into place, so a reader never sees
 * half a table.
 */
export type TableFormat = 'parquet' | 'csv' | 'jsonl';
export const TABLE_FORMATS: readonly TableFormat[] = ['parquet', 'csv', 'jsonl'];

/** A table's format from its file name's extension, or undefined. */
export function formatOfPath(path: string): TableFormat | undefined {
  const m = /\.(parquet|csv|jsonl)$/i.exec(path);
  return m ? (m[1]!.toLowerCase() as TableFormat) : undefined;
}

let duckDb: Promise<typeof import('@duckdb/node-api')> | undefined;

/**
 * DuckDB's module, loaded on first use, not with this module: its native
 * engine takes a while to load, and every migsim command would pay for it
 * at start. A sweep calls it early, while its workers run, so the table is
 * written without that wait at the end.
 *
 * Through require, not import(): the package is CommonJS (about 60 files),
 * and Node's ES-module loader runs its CommonJS export lexer over every
 * file it imports that way (hot enough that V8 optimises the lexer): about
 * 0.6-0.75 s of CPU against 0.35-0.45 s for require, of which bare node
 * is 0.15 (`node -e "import('@duckdb/node-api')"` against
 * `node -e "require('@duckdb/node-api')"`, 3 each, on this 2-core
 * machine). In a sweep that CPU is the main thread's, taken from its runs.
 */
export function loadDuckDb(): Promise<typeof import('@duckdb/node-api')> {
  duckDb ??= new Promise((resolve) => resolve(createRequire(import.meta.url)('@duckdb/node-api') as typeof import('@duckdb/node-api')));
  // Whoever awaits it sees a failure; an early load nobody awaits yet must not be an unhandled rejection.
  duckDb.catch(() => {});
  return duckDb;
}

/** One connection for one command; one thread, so files come out in one order, byte for byte. */
export async function withDuckDb<T>(work: (c: DuckDBConnection) => Promise<T>): Promise<T> {
  const { DuckDBInstance } = await loadDuckDb();
  const db = await DuckDBInstance.create(':memory:', { threads: '1', autoinstall_known_extensions: 'false', autoload_known_extensions: 'false' });
  const c = await db.connect();
  try {
    return await work(c);
  } finally {
    c.closeSync();
    db.closeSync();
  }
}

/** SQL text of a string literal. */
export function sqlString(s: string): string {
  return `'${s.replace(/'/g, "''")}'`;
}

/** SQL text of an identifier. */
export function sqlName(s: string): string {
  return `"${s.replace(/"/g, '""')}"`;
}

/**
 * Writes rows (already in table order) to `path` as one table whose
 * columns are the rows' union (tableColumns) with types from their values.
 * JSON lines and Parquet (parquet-rows.ts) are written directly; CSV through DuckDB.
 */
export async function writeRows(path: string, rows: readonly RunRow[], format: TableFormat): Promise<void> {
  const columns = tableColumns(rows);
  const lines = rows.map((r) => JSON.stringify(Object.fromEntries(columns.map((c) => [c, r[c] ?? null])))).join('\n') + (rows.length ? '\n' : '');
  if (format === 'jsonl') {
    writeFileAtomic(path, lines);
    return;
  }
  if (format === 'parquet') {
    writeFileAtomic(path, parquetOfRows(rows));
    return;
  }
  const json = createScratchFile(path);
  const out = createScratchFile(path);
  try {
    writeFileSync(json, lines);
    const types = columns.map((c) => `${sqlString(c)}: ${sqlString(columnType(rows, c))}`).join(', ');
    const select = rows.length
      ? `SELECT ${columns.map(sqlName).join(', ')} FROM read_json(${sqlString(json)}, format = 'newline_delimited', columns = {${types}}) ORDER BY "index", id`
      : `SELECT NULL::VARCHAR AS id, NULL::BIGINT AS "index" WHERE false`;
    await withDuckDb((c) => c.run(`COPY (${select}) TO ${sqlString(out)} (FORMAT csv, HEADER true)`));
    writeFileAtomic(path, readFileSync(out));
  } finally {
    removeTemporary(json);
    removeTemporary(out);
  }
}

/** A scan of table files of any of the formats, as one relation whose columns are their union by name. */
export function scanSql(files: readonly string[]): string {
  const by = (f: TableFormat) => files.filter((p) => formatOfPath(p) === f).map(sqlString);
  const parts: string[] = [];
  const parquet = by('parquet');
  const csv = by('csv');
  const jsonl = by('jsonl');
  if (parquet.length) parts.push(`SELECT * FROM read_parquet([${parquet.join(', ')}], union_by_name = true)`);
  if (csv.length) parts.push(`SELECT * FROM read_csv([${csv.join(', ')}], union_by_name = true, header = true)`);
  if (jsonl.length) parts.push(`SELECT * FROM read_json([${jsonl.join(', ')}], format = 'newline_delimited', union_by_name = true)`);
  if (!parts.length) return `SELECT NULL::VARCHAR AS id, NULL::BIGINT AS "index" WHERE false`;
  return parts.join(' UNION ALL BY NAME ');
}

/** The runs of table files: one row per run id (a run in two shards' files is one run), in grid order. */
export function runsSql(files: readonly string[]): string {
  return `SELECT * FROM (${scanSql(files)}) QUALIFY row_number() OVER (PARTITION BY id ORDER BY "index") = 1 ORDER BY "index", id`;
}

/** Writes the union of table files to one file (its format from its extension). */
export async function mergeTables(files: readonly string[], path: string, format: TableFormat): Promise<number> {
  const out = createScratchFile(path);
  try {
    const n = await withDuckDb(async (c) => {
      await c.run(`CREATE TABLE runs AS ${runsSql(files)}`);
      const count = Number((await c.runAndReadAll('SELECT count(*) FROM runs')).getRows()[0]![0]);
      const to = format === 'parquet' ? 'parquet' : format === 'csv' ? 'csv, HEADER true' : 'json';
      await c.run(`COPY (SELECT * FROM runs ORDER BY "index", id) TO ${sqlString(out)} (FORMAT ${to})`);
      return count;
    });
    writeFileAtomic(path, readFileSync(out));
    return n;
  } finally {
    removeTemporary(out);
  }
}

/** A query's answer: column names and rows of plain values (big integers as numbers where exact, else text). */
export interface QueryAnswer {
  readonly columns: readonly string[];
  readonly rows: readonly (readonly unknown[])[];
}

/** Runs SQL over a sweep's views (`runs`, and `timing` when there are journals). */
export async function querySweep(views: Readonly<Record<string, string>>, sql: string): Promise<QueryAnswer> {
  return withDuckDb(async (c) => {
    for (const [name, select] of Object.entries(views)) await c.run(`CREATE VIEW ${sqlName(name)} AS ${select}`);
    const reader = await c.runAndReadAll(sql);
    const columns = reader.columnNames();
    const rows = reader.getRowsJS().map((r) => r.map(plain));
    return { columns, rows };
  });
}

function plain(v: unknown): unknown {
  if (typeof v === 'bigint') return Number.isSafeInteger(Number(v)) ? Number(v) : v.toString();
  if (v instanceof Date) return v.toISOString();
  if (Array.isArray(v)) return v.map(plain);
  if (v && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, plain(x)]));
  return v;
}
