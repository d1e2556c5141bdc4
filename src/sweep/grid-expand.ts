import { parseBandwidthBytesPerSec, parseDurationNs, parseNumber, parseSizeBytes, UnitError } from '../model/units.js';
import { type GridAxis, GridError, type GridFile, type GridValue } from './grid-file.js';

/**
 * The runs of a grid: the cartesian product of its axes, first axis
 * slowest (as nested loops read), zipped axes stepping together, excluded
 * combinations left out. Each point is the base run with the axes' values
 * put over it; the order is the grid's, and is the row order of the table.
 */
export interface GridPoint {
  /** Position in the grid's order (after exclusions): the results table's row order. */
  readonly index: number;
  /** Every value of the run, base and axes, by option name (camelCase; `set.KEY` for workload parameters). */
  readonly values: ReadonlyMap<string, GridValue>;
}

/** How a range's ends are read, by option: the same units as the flags take. */
type UnitKind = 'duration' | 'bandwidth' | 'size' | 'number';
const UNIT_KINDS: Readonly<Record<string, UnitKind>> = {
  bandwidth: 'bandwidth',
  maxBandwidth: 'bandwidth',
  downtimeLimit: 'duration',
  start: 'duration',
  duration: 'duration',
  epoch: 'duration',
  round: 'duration',
  mem: 'size',
  vcpus: 'number',
  maxIters: 'number',
  maxFactor: 'number',
  throttleInitial: 'number',
  throttleIncrement: 'number',
  maxCpuThrottle: 'number',
  postcopyAfter: 'number',
  maxPostcopyBandwidth: 'bandwidth',
  availSwitchoverBandwidth: 'bandwidth',
  deviceState: 'size',
  devicePrecopy: 'size',
  deviceLoad: 'duration',
  seed: 'number',
};
/** Options whose values are whole numbers: a range's points are rounded. */
const WHOLE = new Set(['vcpus', 'maxIters', 'throttleInitial', 'throttleIncrement', 'maxCpuThrottle', 'postcopyAfter', 'seed']);

/** `downtime-limit` and `downtimeLimit` name one option; `set.KEY` keeps its key as written. */
export function optionName(name: string): string {
  if (name.startsWith('set.')) return name;
  return name.replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());
}

/** A value read by its option's unit (a number), or the text itself for names and choices. */
export function comparableValue(name: string, text: string): string | number {
  const kind = UNIT_KINDS[optionName(name)];
  try {
    if (kind === 'duration') return parseDurationNs(text);
    if (kind === 'bandwidth') return parseBandwidthBytesPerSec(text);
    if (kind === 'size') return parseSizeBytes(text);
    if (kind === 'number') return parseNumber(text);
  } catch {
    // Not valid: the run's own parsing reports it, at its line.
  }
  return text;
}

/** The points of a grid, in order. */
export function expandGrid(g: GridFile): GridPoint[] {
  const axes = new Map<string, { axis: GridAxis; values: GridValue[] }>();
  for (const a of g.axes) {
    const name = optionName(a.name);
    if (axes.has(name)) throw new GridError(g.path, a.line, `axis '${a.name}' is given twice`);
    axes.set(name, { axis: a, values: axisValues(g.path, name, a) });
  }
  // Zipped axes form one dimension at the place of their first member.
  const zipOf = new Map<string, number>();
  g.zip.forEach((z, zi) => {
    const len = new Set<number>();
    for (const n of z.names) {
      const name = optionName(n);
      const a = axes.get(name);
      if (!a) throw new GridError(g.path, z.line, `zip names '${n}', which is not an axis (axes: ${[...axes.keys()].join(', ') || 'none'})`);
      if (zipOf.has(name)) throw new GridError(g.path, z.line, `axis '${n}' is in two zips`);
      zipOf.set(name, zi);
      len.add(a.values.length);
    }
    if (len.size > 1) throw new GridError(g.path, z.line, `zipped axes ${z.names.join(', ')} must have as many values each (they have ${[...len].join(', ')})`);
  });
  const dims: { names: string[]; values: GridValue[][] }[] = [];
  const placed = new Set<number>();
  for (const [name, a] of axes) {
    const zi = zipOf.get(name);
    if (zi === undefined) {
      dims.push({ names: [name], values: a.values.map((v) => [v]) });
      continue;
    }
    if (placed.has(zi)) continue;
    placed.add(zi);
    const names = g.zip[zi]!.names.map(optionName);
    dims.push({ names, values: a.values.map((_, i) => names.map((n) => axes.get(n)!.values[i]!)) });
  }
  for (const e of g.exclude) {
    for (const k of e.values.keys()) {
      const name = optionName(k);
      if (!axes.has(name)) throw new GridError(g.path, e.line, `exclude names '${k}', which is not an axis (axes: ${[...axes.keys()].join(', ') || 'none'})`);
    }
  }
  const base = new Map<string, GridValue>();
  for (const [k, v] of g.run) base.set(optionName(k), v);
  for (const name of axes.keys()) {
    if (base.has(name)) throw new GridError(g.path, axes.get(name)!.axis.line, `'${name}' is both in run and an axis: give it in one place`);
  }

  const points: GridPoint[] = [];
  const total = dims.reduce((n, d) => n * d.values.length, 1);
  if (total > 10_000_000) throw new GridError(g.path, g.axes[0]?.line ?? 1, `the grid has ${total} runs: more than 10,000,000; split it into several grids`);
  const pick = new Array<number>(dims.length).fill(0);
  for (let i = 0; i < total; i++) {
    // The last dimension steps fastest.
    let r = i;
    for (let d = dims.length - 1; d >= 0; d--) {
      pick[d] = r % dims[d]!.values.length;
      r = Math.floor(r / dims[d]!.values.length);
    }
    const values = new Map(base);
    dims.forEach((d, di) => d.names.forEach((n, ni) => values.set(n, d.values[pick[di]!]![ni]!)));
    if (g.exclude.some((e) => [...e.values].every(([k, v]) => comparableValue(k, values.get(optionName(k))!.text) === comparableValue(k, v.text)))) continue;
    points.push({ index: points.length, values });
  }
  return points;
}

function axisValues(path: string, name: string, a: GridAxis): GridValue[] {
  if (a.values) return [...a.values];
  if (a.seedCount) {
    if (name !== 'seed') throw new GridError(path, a.line, `{count: N} is for the seed axis only; give '${a.name}' a list or a range`);
    return Array.from({ length: a.seedCount.count }, (_, i) => ({ text: String(a.seedCount!.from + i), line: a.line }));
  }
  const r = a.range!;
  const kind = UNIT_KINDS[name];
  if (!kind) throw new GridError(path, a.line, `'${a.name}' takes no range (ranges are for ${Object.keys(UNIT_KINDS).join(', ')}); give a list`);
  const read = (v: GridValue): number => {
    try {
      const n = comparableValue(name, v.text);
      if (typeof n !== 'number') throw new UnitError(`not a ${kind}: '${v.text}'`);
      return n;
    } catch (e) {
      throw new GridError(path, v.line, `${a.name}: ${(e as Error).message}`);
    }
  };
  const from = read(r.from);
  const to = read(r.to);
  if (r.scale === 'log' && !(from > 0 && to > 0)) throw new GridError(path, r.from.line, `${a.name}: a log range needs both ends above zero`);
  const out: GridValue[] = [];
  for (let i = 0; i < r.steps; i++) {
    const f = i / (r.steps - 1);
    const x = r.scale === 'log' ? from * (to / from) ** f : from + (to - from) * f;
    // Ends exactly as written; the points between in whole units of the
    // option (ns, bytes, bytes/s), so that a run's value is exact.
    const v = i === 0 ? from : i === r.steps - 1 ? to : kind === 'number' && !WHOLE.has(name) ? Number(x.toPrecision(12)) : Math.round(x);
    out.push({ text: inUnit(kind, v), line: i === r.steps - 1 ? r.to.line : r.from.line });
  }
  return out;
}

/** A computed point as its flag would take it. */
function inUnit(kind: UnitKind, v: number): string {
  if (kind === 'duration') return `${v}ns`;
  if (kind === 'bandwidth') return `${v}B/s`;
  if (kind === 'size') return `${v}B`;
  return String(v);
}
