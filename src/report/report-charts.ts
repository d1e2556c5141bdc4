import type { TopLevelSpec } from 'vega-lite';
import { CONFIG, DOWNTIME_PARTS, FULL_WIDTH, SCHEMA } from './chart-style.js';
import type { RunReport } from './report-data.js';

/**
 * The report's pictures as vega-lite specs, one function per picture, with
 * the data inline. Each mark is named, so the rendered SVG carries a class
 * per mark (`convergence_marks`, `downtime_marks`, ...) that tests count.
 * The pictures over time are in chart-timelines.ts, the rounds in time in
 * chart-rounds.ts, the convergence in chart-convergence.ts.
 */

export { DOWNTIME_PARTS } from './chart-style.js';
export { convergenceChart } from './chart-convergence.js';
export { roundsChart } from './chart-rounds.js';
export { exitsChart, overviewChart, throughputChart } from './chart-timelines.js';

/** Downtime as one stacked bar per run: its parts in the order they happen. */
export function downtimeChart(runs: readonly RunReport[]): TopLevelSpec {
  const label = (r: RunReport) => r.label;
  const values = runs.flatMap((r) =>
    DOWNTIME_PARTS.flatMap((p, order) => {
      const ns = r.summary.downtime[p.key];
      return ns > 0 ? [{ run: label(r), part: p.label, order, ms: ns / 1e6 }] : [];
    }),
  );
  // A migration that never stopped and copied has no downtime to draw: say why.
  const totals = runs.map((r) => ({ run: label(r), ms: r.summary.downtimeNs / 1e6, text: r.summary.downtimeNs > 0 || r.summary.outcome === 'completed' ? `${(r.summary.downtimeNs / 1e6).toFixed(2)} ms` : `no stop-and-copy: ${r.summary.stopReason}` }));
  const maxMs = Math.max(...totals.map((t) => t.ms), 0);
  const y = { field: 'run', type: 'nominal', title: null, sort: runs.map(label), scale: { domain: runs.map(label) }, axis: { labelLimit: 220 } } as const;
  return {
    $schema: SCHEMA,
    config: CONFIG,
    title: { text: 'Downtime: suspend to resume, by part', subtitle: 'the guest is paused for the whole bar' },
    width: FULL_WIDTH - 220,
    height: { step: 34 },
    layer: [
      {
        name: 'downtime',
        data: { values },
        mark: { type: 'bar', tooltip: true },
        encoding: {
          y,
          x: { field: 'ms', type: 'quantitative', stack: 'zero', title: 'downtime (ms)', scale: { domain: [0, maxMs > 0 ? maxMs * 1.18 : 1] } },
          color: { field: 'part', type: 'nominal', title: null, scale: { domain: DOWNTIME_PARTS.map((p) => p.label), range: DOWNTIME_PARTS.map((p) => p.color) }, legend: { orient: 'top' } },
          order: { field: 'order', type: 'quantitative' },
        },
      },
      {
        name: 'downtime_total',
        data: { values: totals },
        mark: { type: 'text', align: 'left', dx: 4, fontSize: 11 },
        encoding: { y, x: { field: 'ms', type: 'quantitative' }, text: { field: 'text', type: 'nominal' } },
      },
    ],
  };
}
