import { type BasicType, parquetWriteBuffer } from 'hyparquet-writer';
import { type Cell, columnType, type RunRow, tableColumns } from '../../sweep/run-row.js';

/**
 * A sweep shard's rows as one Parquet file's bytes, in JavaScript
 * (hyparquet-writer, bundled into the CLI, no native code), not through
 * DuckDB: loading DuckDB's engine and creating an instance cost a sweep
 * 0.25-0.35 s of CPU on its serial path (a one-run sweep's CPU with
 * --format parquet against jsonl), as much as 6-8 apache runs, for a table
 * of a few hundred rows. DuckDB still reads these files (sweep merge,
 * query), and the table is the one the DuckDB writer made, cell for cell:
 * the same columns in the same order (tableColumns), the same types from the
 * same rule (columnType: BIGINT as INT64, DOUBLE, BOOLEAN, VARCHAR as UTF-8
 * strings), nulls where a row has no value, rows ordered by index, then id.
 *
 * The bytes are a function of the rows alone (no clock, no host in the
 * file's metadata), so a sweep's table is the same file on any thread count
 * (test/cli/sweep.test.ts).
 */
export function parquetOfRows(rows: readonly RunRow[]): Uint8Array {
  const sorted = [...rows].sort((a, b) => Number(a['index']) - Number(b['index']) || compareText(String(a['id']), String(b['id'])));
  const columnData = tableColumns(sorted).map((name) => {
    // An empty table still says what its key columns are (DuckDB's writer: id VARCHAR, index BIGINT), so it unites with other shards' tables.
    const sql = name === 'index' ? 'BIGINT' : columnType(sorted, name);
    const type: BasicType = sql === 'BIGINT' ? 'INT64' : sql === 'DOUBLE' ? 'DOUBLE' : sql === 'BOOLEAN' ? 'BOOLEAN' : 'STRING';
    return { name, type, data: sorted.map((r) => cellAs(r[name], sql)) };
  });
  return new Uint8Array(parquetWriteBuffer({ columnData, createdBy: 'migsim' }));
}

/**
 * A cell as its column's type holds it: whole numbers as 64-bit integers, and
 * in a text column (a column mixing kinds) a number or boolean as its JSON
 * text, as DuckDB read the JSON lines into VARCHAR.
 */
function cellAs(v: Cell | undefined, sql: ReturnType<typeof columnType>): bigint | number | boolean | string | null {
  if (v === null || v === undefined) return null;
  if (sql === 'BIGINT') return BigInt(v as number);
  if (sql === 'VARCHAR') return typeof v === 'string' ? v : JSON.stringify(v);
  return v;
}

/** Byte order of UTF-8 text, as DuckDB orders VARCHAR (ids are hex: the same as JavaScript's order). */
function compareText(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
