import type { TopLevelSpec } from 'vega-lite';
import { esc, htmlDocument } from './html-document.js';
import { formatCount } from '../model/units.js';
import { PARAM_PREFIX, type Cell } from '../sweep/run-row.js';

/**
 * A sweep's report, as self-contained as the other reports (inline SVG, no
 * script): for each numeric axis of the grid, downtime and total time
 * against it, one line per tracker and policy, the band the spread over
 * seeds; a convergence map over the first two numeric axes (colour:
 * completed, stopped by the pass limit, incomplete, lost pages); and the
 * runs' table.
 */
export type SweepRows = readonly Readonly<Record<string, Cell>>[];

/** Parameters that vary across the rows: numeric ones are axes, text ones name the lines. */
export function sweepAxes(rows: SweepRows): { numeric: string[]; series: string[] } {
  const numeric: string[] = [];
  const series: string[] = [];
  const names = new Set(rows.flatMap((r) => Object.keys(r)).filter((k) => k.startsWith(PARAM_PREFIX)));
  for (const name of [...names].sort()) {
    if (name === `${PARAM_PREFIX}seed`) continue;
    const values = new Set(rows.map((r) => r[name]));
    if (values.size < 2) continue;
    if ([...values].every((v) => typeof v === 'number')) numeric.push(name);
    else series.push(name);
  }
  return { numeric, series };
}

/** What became of a run, for the map's colours. */
export function convergence(r: Readonly<Record<string, Cell>>): string {
  if (r['outcome'] === 'error') return 'error';
  if (Number(r['lostPages'] ?? 0) + Number(r['lostPtes'] ?? 0) > 0) return 'lost pages';
  if (r['outcome'] === 'incomplete') return 'incomplete';
  if (/limit|max-factor|never/i.test(String(r['stopReason'] ?? ''))) return 'forced stop (not converged)';
  return 'converged';
}

const label = (name: string) => name.slice(PARAM_PREFIX.length);

/** Downtime or total time (ms) against one numeric axis; lines by series, band over seeds and other axes. */
export function metricChart(rows: SweepRows, axis: string, metric: 'downtimeNs' | 'totalNs', series: readonly string[]): TopLevelSpec {
  const values = rows
    .filter((r) => typeof r[metric] === 'number')
    .map((r) => ({ x: r[axis], ms: (r[metric] as number) / 1e6, line: series.map((s) => String(r[s])).join(' ') || 'all' }));
  const x = { field: 'x', type: 'quantitative' as const, title: label(axis), scale: { type: 'log' as const } };
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    width: 420,
    height: 220,
    data: { values },
    layer: [
      { mark: { type: 'errorband', extent: 'min-max' }, encoding: { x, y: { field: 'ms', type: 'quantitative', title: `${metric === 'downtimeNs' ? 'downtime' : 'total time'} (ms)` }, color: { field: 'line', type: 'nominal', title: series.map(label).join(' ') || 'runs' } } },
      { mark: { type: 'line', point: true }, encoding: { x, y: { aggregate: 'mean', field: 'ms', type: 'quantitative' }, color: { field: 'line', type: 'nominal' } } },
    ],
  } as TopLevelSpec;
}

/** The convergence map over two numeric axes: the worst outcome of the runs at each point. */
export function convergenceMap(rows: SweepRows, xAxis: string, yAxis: string): TopLevelSpec {
  const order = ['converged', 'forced stop (not converged)', 'incomplete', 'lost pages', 'error'];
  const cells = new Map<string, { x: Cell; y: Cell; state: string }>();
  for (const r of rows) {
    const key = `${String(r[xAxis])}|${String(r[yAxis])}`;
    const state = convergence(r);
    const had = cells.get(key);
    if (!had || order.indexOf(state) > order.indexOf(had.state)) cells.set(key, { x: r[xAxis] ?? null, y: r[yAxis] ?? null, state });
  }
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    width: 420,
    height: 220,
    data: { values: [...cells.values()] },
    mark: 'rect',
    encoding: {
      x: { field: 'x', type: 'ordinal', title: label(xAxis), sort: 'ascending' },
      y: { field: 'y', type: 'ordinal', title: label(yAxis), sort: 'descending' },
      color: { field: 'state', type: 'nominal', title: 'worst run', scale: { domain: order, range: ['#4c9f70', '#e0a030', '#8888cc', '#d04040', '#555555'] } },
    },
  } as TopLevelSpec;
}

/** The report's HTML. */
export async function sweepReportHtml(title: string, rows: SweepRows, command: string): Promise<string> {
  const { renderSvg } = await import('./render-svg.js');
  const { numeric, series } = sweepAxes(rows);
  const figures: string[] = [];
  for (const axis of numeric) {
    for (const metric of ['downtimeNs', 'totalNs'] as const) {
      const svg = await renderSvg(metricChart(rows, axis, metric, series));
      figures.push(`<figure data-chart="${esc(`${metric}-${label(axis)}`)}">\n${svg}\n<figcaption>${esc(`${metric === 'downtimeNs' ? 'Downtime' : 'Total time'} against ${label(axis)}: the line is the mean, the band the range over seeds and the other axes.`)}</figcaption>\n</figure>`);
    }
  }
  if (numeric.length >= 2) {
    const svg = await renderSvg(convergenceMap(rows, numeric[0]!, numeric[1]!));
    figures.push(`<figure data-chart="convergence-map">\n${svg}\n<figcaption>${esc(`Convergence over ${label(numeric[0]!)} and ${label(numeric[1]!)}: the worst run at each point.`)}</figcaption>\n</figure>`);
  }
  const shown = ['index', 'id', ...numeric, ...series, `${PARAM_PREFIX}seed`, 'outcome', 'stopReason', 'downtimeNs', 'totalNs', 'bytesSent', 'lostPages'];
  const head = `<tr>${shown.map((c) => `<th>${esc(c.startsWith(PARAM_PREFIX) ? label(c) : c)}</th>`).join('')}</tr>`;
  const body = rows.map((r) => `<tr>${shown.map((c) => `<td>${esc(r[c] === null || r[c] === undefined ? '' : String(r[c]))}</td>`).join('')}</tr>`).join('\n');
  const counts = new Map<string, number>();
  for (const r of rows) counts.set(convergence(r), (counts.get(convergence(r)) ?? 0) + 1);
  return htmlDocument(title, STYLE, `<header>
<h1>${esc(title)}</h1>
<p class="lede">${esc(`${formatCount(rows.length)} runs; ${[...counts].map(([k, n]) => `${formatCount(n)} ${k}`).join(', ')}. Axes: ${numeric.map(label).join(', ') || 'none numeric'}; lines: ${series.map(label).join(', ') || 'one'}.`)}</p>
<pre class="command">${esc(command)}</pre>
</header>
<section id="charts">
<h2>Charts</h2>
${figures.join('\n') || '<p class="note">No numeric axis varies in this sweep: no chart.</p>'}
</section>
<section id="runs">
<h2>Runs</h2>
<table>
<thead>${head}</thead>
<tbody>
${body}
</tbody>
</table>
</section>`);
}


const STYLE = `
body { font: 14px/1.45 Helvetica, Arial, sans-serif; color: #222; max-width: 1100px; margin: 24px auto; padding: 0 16px; }
h1 { font-size: 22px; margin: 0 0 4px; }
h2 { font-size: 17px; margin: 28px 0 8px; border-bottom: 1px solid #ddd; padding-bottom: 4px; }
.lede { color: #444; margin: 0; }
table { border-collapse: collapse; font-size: 12px; margin: 4px 0; }
th, td { border: 1px solid #ddd; padding: 2px 6px; text-align: left; }
td { font-variant-numeric: tabular-nums; }
thead th { background: #f4f4f4; }
pre { background: #f6f6f6; border: 1px solid #e2e2e2; padding: 8px; white-space: pre-wrap; font-size: 12px; }
figure { margin: 20px 0; }
figure svg { max-width: 100%; height: auto; }
figcaption { color: #555; font-size: 12px; margin-top: 4px; }
.note { color: #666; font-size: 12px; }
footer { color: #888; font-size: 12px; margin-top: 32px; }
`;
