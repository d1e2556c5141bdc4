/**
 * A run's row in a sweep's table: the `run --json` object flattened into
 * columns. Nested objects become `parent_child` columns (`downtime_suspendNs`,
 * `exits_pml_full_count`, `workload_params_rate`); lists (rounds, epochs,
 * first lost pfns, stall by vCPU) stay whole as JSON text, since a row has
 * one value per column (DuckDB reads them back with json functions).
 *
 * A row holds only what the run's parameters determine, so the same run
 * gives the same row in any process, worker or shard. How long a run took
 * is kept apart (SweepTiming), so tables of two sweeps compare equal.
 */
export type Cell = string | number | boolean | null;
export type RunRow = Readonly<Record<string, Cell>>;

/** Columns that lead every row, in this order; the rest follow sorted by name. */
export const KEY_COLUMNS = ['id', 'index'] as const;
/** The prefix of the parameter columns (the run's options with defaults). */
export const PARAM_PREFIX = 'param_';

/** Flattens a JSON value (as `run --json` prints it) into cells. */
export function flattenJson(value: unknown, prefix = '', out: Record<string, Cell> = {}): Record<string, Cell> {
  if (value === null || value === undefined) {
    if (prefix) out[prefix] = null;
  } else if (Array.isArray(value)) {
    out[prefix] = JSON.stringify(value);
  } else if (typeof value === 'object') {
    for (const [k, v] of Object.entries(value)) flattenJson(v, prefix ? `${prefix}_${k}` : k, out);
  } else if (typeof value === 'number' || typeof value === 'string' || typeof value === 'boolean') {
    out[prefix] = value;
  }
  return out;
}

/**
 * The row of a run: its id and place in the grid, its parameters, and its
 * `run --json` object (as JSON would carry it: no NaN, no undefined).
 */
export function runRow(id: string, index: number, params: Readonly<Record<string, unknown>>, runJson: unknown): RunRow {
  const row: Record<string, Cell> = { id, index };
  for (const [k, v] of Object.entries(params)) row[PARAM_PREFIX + k.replace(/\./g, '_')] = v as Cell;
  const flat = flattenJson(JSON.parse(JSON.stringify(runJson)));
  for (const k of Object.keys(flat).sort()) row[k] = flat[k]!;
  return row;
}

/** The row of a run that could not run: its parameters and the error. */
export function errorRow(id: string, index: number, params: Readonly<Record<string, unknown>>, error: string): RunRow {
  return { ...runRow(id, index, params, {}), outcome: 'error', error };
}

/** The columns of a set of rows: key columns, parameters, then the rest, each sorted, so every shard orders them alike. */
export function tableColumns(rows: readonly RunRow[]): string[] {
  const names = new Set<string>();
  for (const r of rows) for (const k of Object.keys(r)) names.add(k);
  const rest = [...names].filter((n) => !(KEY_COLUMNS as readonly string[]).includes(n)).sort();
  return [...KEY_COLUMNS, ...rest.filter((n) => n.startsWith(PARAM_PREFIX)), ...rest.filter((n) => !n.startsWith(PARAM_PREFIX))];
}

/** A column's SQL type from its values: whole numbers BIGINT, other numbers DOUBLE, then BOOLEAN, else VARCHAR. */
export function columnType(rows: readonly RunRow[], column: string): 'BIGINT' | 'DOUBLE' | 'BOOLEAN' | 'VARCHAR' {
  let sawNumber = false;
  let whole = true;
  let sawBool = false;
  let sawText = false;
  for (const r of rows) {
    const v = r[column];
    if (v === null || v === undefined) continue;
    if (typeof v === 'number') {
      sawNumber = true;
      if (!Number.isSafeInteger(v)) whole = false;
    } else if (typeof v === 'boolean') sawBool = true;
    else sawText = true;
  }
  if (sawText || (sawNumber && sawBool)) return 'VARCHAR';
  if (sawNumber) return whole ? 'BIGINT' : 'DOUBLE';
  if (sawBool) return 'BOOLEAN';
  return 'VARCHAR';
}
