import { isMap, isScalar, isSeq, LineCounter, parseDocument, type Node as YamlNode } from 'yaml';
import { z } from 'zod';

/**
 * A sweep's grid file (YAML): the base run, as `migsim run` takes it, and
 * the axes that vary it.
 *
 *   run:                     # options named as run's flags (camelCase or kebab-case)
 *     workload: apache       # or trace: path/to/guest.mst
 *     tracker: pml
 *     duration: 4s
 *     set: {workers: 4}      # workload parameters (--set key=value)
 *   axes:
 *     tracker: [shadow, hap, pml]                                # a list
 *     bandwidth: [1Gbit, 10Gbit]
 *     downtimeLimit: {from: 50ms, to: 1s, steps: 8, scale: log}  # a range
 *     seed: {count: 5}                                           # seeds 1..5
 *     set.workers: [4, 16]                                       # a workload parameter
 *   zip: [[bandwidth, downtimeLimit]]  # axes that vary together (same length)
 *   exclude:                           # combinations left out
 *     - {tracker: shadow, bandwidth: 10Gbit}
 *
 * Every value keeps the line it came from, so that whatever is wrong with
 * it later (an unknown unit, a tracker that does not exist) is reported at
 * its line (GridError).
 */

/** A value of the grid and the line of the file it is on (1-based). */
export interface GridValue {
  readonly text: string;
  readonly line: number;
}

/** An axis: a name (a run option, `workload`, `trace`, `seed` or `set.KEY`) and its values in order. */
export interface GridAxis {
  readonly name: string;
  readonly line: number;
  /** A list's items as written; a range's points are computed by grid-expand.ts. */
  readonly values?: readonly GridValue[];
  readonly range?: GridRange;
  readonly seedCount?: { readonly count: number; readonly from: number };
}

export interface GridRange {
  readonly from: GridValue;
  readonly to: GridValue;
  readonly steps: number;
  readonly scale: 'linear' | 'log';
}

export interface GridFile {
  readonly path: string;
  readonly run: ReadonlyMap<string, GridValue>;
  readonly axes: readonly GridAxis[];
  readonly zip: readonly { readonly names: readonly string[]; readonly line: number }[];
  readonly exclude: readonly { readonly values: ReadonlyMap<string, GridValue>; readonly line: number }[];
}

/** A mistake in a grid file: `FILE:LINE: what is wrong, and what to write`. */
export class GridError extends Error {
  override readonly name = 'GridError';

  constructor(
    readonly path: string,
    readonly line: number,
    why: string,
  ) {
    super(`${path}:${line}: ${why}`);
  }
}

const scalar = z.union([z.string(), z.number(), z.boolean()]);
const range = z.object({ from: z.union([z.string(), z.number()]), to: z.union([z.string(), z.number()]), steps: z.number().int().min(2).max(10_000), scale: z.enum(['linear', 'lin', 'log']).optional() }).strict();
const seedCount = z.object({ count: z.number().int().min(1).max(1_000_000), from: z.number().int().min(0).max(2 ** 32 - 1).optional() }).strict();
const axisSchema = z.union([z.array(scalar).min(1), range, seedCount]);
const gridSchema = z
  .object({
    run: z.record(z.string(), z.union([scalar, z.record(z.string(), scalar)])),
    axes: z.record(z.string(), axisSchema).optional(),
    zip: z.array(z.array(z.string()).min(2)).optional(),
    exclude: z.array(z.record(z.string(), scalar)).optional(),
  })
  .strict();

/** Reads and checks a grid file's text (`path` names it in errors). */
export function parseGridFile(path: string, text: string): GridFile {
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, uniqueKeys: true, prettyErrors: false });
  const lineOf = (offset: number | undefined) => (offset === undefined ? 1 : lines.linePos(offset).line);
  if (doc.errors.length) {
    const e = doc.errors[0]!;
    throw new GridError(path, lineOf(e.pos[0]), `not valid YAML: ${e.message.split('\n')[0]}`);
  }
  const js: unknown = doc.toJS();
  const checked = gridSchema.safeParse(js);
  if (!checked.success) {
    const issue = checked.error.issues[0]!;
    const at = nodeAt(doc.contents, issue.path as (string | number)[]);
    const where = issue.path.length ? `${issue.path.join('.')}: ` : '';
    throw new GridError(path, lineOf(at?.range?.[0]), `${where}${issueText(issue)}`);
  }
  const value = (p: (string | number)[]): GridValue => {
    const n = nodeAt(doc.contents, p);
    const v = isScalar(n) ? n.value : undefined;
    return { text: String(v), line: lineOf(n?.range?.[0]) };
  };
  const keyLine = (p: (string | number)[]): number => lineOf(keyNodeAt(doc.contents, p)?.range?.[0]);

  const g = checked.data;
  const run = new Map<string, GridValue>();
  for (const [k, v] of Object.entries(g.run)) {
    if (typeof v === 'object') {
      // `set: {workers: 4}`: each workload parameter is a run value of its own.
      for (const sk of Object.keys(v)) run.set(`set.${sk}`, value(['run', k, sk]));
    } else run.set(k, value(['run', k]));
  }
  const axes: GridAxis[] = Object.entries(g.axes ?? {}).map(([name, a]) => {
    const line = keyLine(['axes', name]);
    if (Array.isArray(a)) return { name, line, values: a.map((_, i) => value(['axes', name, i])) };
    if ('count' in a) return { name, line, seedCount: { count: a.count, from: a.from ?? 1 } };
    return { name, line, range: { from: value(['axes', name, 'from']), to: value(['axes', name, 'to']), steps: a.steps, scale: a.scale === 'log' ? 'log' : 'linear' } };
  });
  const zip = (g.zip ?? []).map((names, i) => ({ names, line: lineOf(nodeAt(doc.contents, ['zip', i])?.range?.[0]) }));
  const exclude = (g.exclude ?? []).map((m, i) => ({
    values: new Map(Object.keys(m).map((k) => [k, value(['exclude', i, k])])),
    line: lineOf(nodeAt(doc.contents, ['exclude', i])?.range?.[0]),
  }));
  return { path, run, axes, zip, exclude };
}

function issueText(issue: z.core.$ZodIssue): string {
  if (issue.code === 'unrecognized_keys') return `unknown key${issue.keys.length > 1 ? 's' : ''} ${issue.keys.map((k) => `'${k}'`).join(', ')} (a grid has run, axes, zip and exclude)`;
  if (issue.code === 'invalid_union') return 'expected a list of values ([1Gbit, 10Gbit]), a range ({from: 50ms, to: 1s, steps: 8, scale: log}) or seeds ({count: 5})';
  return issue.message;
}

/** The YAML node at a path of keys and indices, if there is one. */
function nodeAt(root: unknown, path: readonly (string | number)[]): YamlNode | undefined {
  let n: unknown = root;
  for (const k of path) {
    if (isMap(n)) n = n.items.find((p) => isScalar(p.key) && String(p.key.value) === String(k))?.value;
    else if (isSeq(n)) n = n.items[Number(k)];
    else return undefined;
  }
  return n as YamlNode | undefined;
}

/** The key node of the last step of a path (for a map entry whose value spans lines). */
function keyNodeAt(root: unknown, path: readonly (string | number)[]): YamlNode | undefined {
  const parent = nodeAt(root, path.slice(0, -1));
  if (!isMap(parent)) return undefined;
  const k = path[path.length - 1];
  const pair = parent.items.find((p) => isScalar(p.key) && String(p.key.value) === String(k));
  return pair?.key as YamlNode | undefined;
}
