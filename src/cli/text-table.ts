import type CliTable from 'cli-table3';

/**
 * Every table the command line prints goes through here, on cli-table3:
 * `boxTable` for a table that stands alone (compare's side by side), and
 * `blockTable` for one inside an indented block of text (run's rounds,
 * exits and tracker counts; inspect's events by kind), without borders, its
 * columns aligned. One place decides how tables look, so that a table of
 * `run` reads as one of `run --round` or `inspect` does, and a column's
 * numbers line up however wide they get (hand padding broke at the first
 * value wider than its pad).
 */
export type Align = 'left' | 'right';

let Table: typeof CliTable | undefined;

/**
 * Loads cli-table3 (with @colors/colors, string-width and emoji-regex: 59 KB,
 * a tenth of what a short run loads) for a command about to print a table:
 * a command that prints JSON, or nothing, does not load it. Call it (and
 * await it) before the first table; the table functions are synchronous.
 */
export async function loadTextTables(): Promise<void> {
  Table ??= (await import('cli-table3')).default;
}

function newTable(options: CliTable.TableConstructorOptions): CliTable.Table {
  if (!Table) throw new Error('text-table: a table was drawn before loadTextTables() finished');
  return new Table(options);
}

export interface Column {
  readonly head: string;
  /** Numbers right, words left (the default). */
  readonly align?: Align;
}

const NO_BORDERS = {
  top: '',
  'top-mid': '',
  'top-left': '',
  'top-right': '',
  bottom: '',
  'bottom-mid': '',
  'bottom-left': '',
  'bottom-right': '',
  left: '',
  'left-mid': '',
  mid: '',
  'mid-mid': '',
  right: '',
  'right-mid': '',
  middle: '  ',
};

/** A bordered table: a head row, then one row per entry; a cell may hold several lines. */
export function boxTable(columns: readonly Column[], rows: readonly (readonly string[])[]): string {
  const table = newTable({ head: columns.map((c) => c.head), colAligns: columns.map((c) => c.align ?? 'left'), style: { head: [], border: [] } });
  for (const row of rows) table.push([...row]);
  // cli-table3 draws the same rule under the head and between rows; only
  // the first is kept, so that a table of thirty figures fits a screen.
  let rules = 0;
  return table
    .toString()
    .split('\n')
    .filter((l) => !l.startsWith('├') || rules++ === 0)
    .join('\n');
}

/**
 * A table inside an indented block: the head (unless every column's head is
 * empty) and the rows, each line `indent` spaces in, columns two spaces
 * apart, no borders. Returns its lines, none for no rows.
 */
export function blockTable(columns: readonly Column[], rows: readonly (readonly string[])[], indent = 4): string[] {
  if (rows.length === 0) return [];
  const withHead = columns.some((c) => c.head !== '');
  const table = newTable({
    ...(withHead ? { head: columns.map((c) => c.head) } : {}),
    colAligns: columns.map((c) => c.align ?? 'left'),
    chars: NO_BORDERS,
    style: { head: [], border: [], 'padding-left': 0, 'padding-right': 0 },
  });
  for (const row of rows) table.push([...row]);
  const pad = ' '.repeat(indent);
  return table
    .toString()
    .split('\n')
    .map((l) => (pad + l).trimEnd());
}

/**
 * Name-value pairs (a tracker's counts, say) as a block of `perRow` pairs a
 * line, names and values each in aligned columns: readable where one line
 * of hundreds of characters was not.
 */
export function pairsTable(pairs: readonly (readonly [string, string])[], perRow = 3, indent = 4): string[] {
  const rows: string[][] = [];
  for (let i = 0; i < pairs.length; i += perRow) {
    const row: string[] = [];
    for (let j = i; j < i + perRow; j++) row.push(pairs[j]?.[0] ?? '', pairs[j]?.[1] ?? '');
    rows.push(row);
  }
  const columns: Column[] = Array.from({ length: perRow * 2 }, (_, k) => ({ head: '', align: k % 2 ? 'right' : 'left' }));
  return blockTable(columns, rows, indent);
}
