import type { TopLevelSpec } from 'vega-lite';
import type { RunReport } from './report-data.js';
import { wrapLines } from '../util/wrap-lines.js';

/**
 * The report's pictures as vega-lite specs, one function per picture, with
 * the data inline. Each mark is named, so the rendered SVG carries a class
 * per mark (`convergence_marks`, `downtime_marks`, ...) that tests count.
 * Wall time is drawn in seconds, traffic in MiB, downtime in milliseconds.
 */

/** The names the marks carry in the SVG (vega-lite appends `_marks`). */
const CHART_MARKS = {
  convergence: 'convergence',
  downtime: 'downtime',
  dirtyRate: 'dirty_rate',
  traffic: 'traffic',
  suspendResume: 'suspend_resume',
  exits: 'exits',
  slowdown: 'slowdown',
} as const;

/** Downtime parts in the order they happen, with their colours. */
export const DOWNTIME_PARTS: readonly { key: keyof RunReport['summary']['downtime']; label: string; color: string }[] = [
  { key: 'suspendNs', label: 'suspend', color: '#9e9e9e' },
  { key: 'finalCleanNs', label: 'final clean', color: '#f28e2b' },
  { key: 'finalPagesNs', label: 'final pages', color: '#e15759' },
  { key: 'canonicaliseNs', label: 'canonicalisation', color: '#b07aa1' },
  { key: 'stateNs', label: 'vCPU/device state', color: '#4e79a7' },
  { key: 'resumeNs', label: 'resume', color: '#59a14f' },
];

const SCHEMA = 'https://vega.github.io/schema/vega-lite/v6.json';
const FULL_WIDTH = 860;
const RUN_COLORS = ['#4e79a7', '#f28e2b', '#59a14f', '#e15759', '#76b7b2', '#edc948', '#b07aa1', '#ff9da7', '#9c755f', '#bab0ac'];
const CONFIG = {
  font: 'Helvetica, Arial, sans-serif',
  background: 'white',
  title: { anchor: 'start', fontSize: 14, subtitleFontSize: 11, subtitleColor: '#555' },
  axis: { labelFontSize: 10, titleFontSize: 11 },
  legend: { labelFontSize: 11, titleFontSize: 11 },
  header: { labelFontSize: 12 },
} as const;

function runColor(runs: readonly RunReport[]) {
  return { domain: runs.map((r) => r.label), range: runs.map((_, i) => RUN_COLORS[i % RUN_COLORS.length]!) };
}

function facetWidth(runs: readonly RunReport[]): number {
  return Math.max(180, Math.floor(FULL_WIDTH / runs.length) - 50);
}

/**
 * Pages sent in each round beside the pages the CLEAN at its end reported
 * dirty: the convergence picture. One panel per run, headed by the stop
 * rule that fired. A symlog axis keeps the first full pass and the last
 * few dozen pages on one picture.
 */
export function convergenceChart(runs: readonly RunReport[]): TopLevelSpec {
  const panel = (r: RunReport) => [r.label, ...wrapLines(`stop: ${r.summary.stopReason || r.summary.outcome}`, Math.max(24, Math.floor(facetWidth(runs) / 6)))].join('\n');
  const values = runs.flatMap((r) =>
    r.summary.rounds.flatMap((round) => [
      { panel: panel(r), round: round.round, series: 'pages sent', pages: round.pagesSent },
      ...(round.dirtyPages >= 0 ? [{ panel: panel(r), round: round.round, series: 'pages dirtied', pages: round.dirtyPages }] : []),
    ]),
  );
  return {
    $schema: SCHEMA,
    config: CONFIG,
    title: { text: 'Convergence: pages sent and pages dirtied per round', subtitle: 'dirtied = pages the CLEAN that ended the round reported (the final one: at suspend); symlog scale' },
    data: { values },
    facet: {
      column: {
        field: 'panel',
        type: 'nominal',
        title: null,
        sort: runs.map(panel),
        header: { labelExpr: "split(datum.value, '\\n')", labelLimit: 0, labelAlign: 'left', labelAnchor: 'start', labelFontWeight: 'bold' },
      },
    },
    spec: {
      name: CHART_MARKS.convergence,
      width: facetWidth(runs),
      height: 220,
      mark: { type: 'bar', tooltip: true },
      encoding: {
        x: { field: 'round', type: 'ordinal', title: 'round', axis: { labelAngle: 0 } },
        xOffset: { field: 'series', type: 'nominal', sort: ['pages sent', 'pages dirtied'] },
        y: { field: 'pages', type: 'quantitative', title: 'pages (4 KiB)', scale: { type: 'symlog' } },
        color: { field: 'series', type: 'nominal', title: null, scale: { domain: ['pages sent', 'pages dirtied'], range: ['#4e79a7', '#e15759'] }, legend: { orient: 'top' } },
      },
    },
  };
}

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
  const y = { field: 'run', type: 'nominal', title: null, sort: runs.map(label), scale: { domain: runs.map(label) } } as const;
  return {
    $schema: SCHEMA,
    config: CONFIG,
    title: { text: 'Downtime: suspend to resume, by part', subtitle: 'the guest is paused for the whole bar' },
    width: FULL_WIDTH - 180,
    height: { step: 34 },
    layer: [
      {
        name: CHART_MARKS.downtime,
        data: { values },
        mark: { type: 'bar', tooltip: true },
        encoding: {
          y,
          x: { field: 'ms', type: 'quantitative', stack: 'zero', title: 'downtime (ms)', scale: { domain: [0, maxMs > 0 ? maxMs * 1.12 : 1] } },
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

/**
 * Dirty rate (pages per second between CLEANs) and cumulative bytes on the
 * wire over wall time, one line per run, with each run's suspend (dashed)
 * and resume (solid) marked and the downtime shaded.
 */
export function trafficChart(runs: readonly RunReport[]): TopLevelSpec {
  const color = { field: 'run', type: 'nominal' as const, title: null, scale: runColor(runs), legend: { orient: 'top' as const, symbolType: 'stroke', symbolOpacity: 1, symbolStrokeWidth: 2.5 } };
  const rate = runs.flatMap((r) => {
    const segs = r.timeline.dirtyRate;
    const pts = segs.map((s) => ({ run: r.label, s: s.startNs / 1e9, rate: s.pagesPerSec, round: s.round }));
    const last = segs[segs.length - 1];
    if (last) pts.push({ run: r.label, s: last.endNs / 1e9, rate: last.pagesPerSec, round: last.round });
    return pts;
  });
  const rateMax = Math.max(1, ...rate.map((p) => p.rate));
  const rateTicks = [0, 10, 100, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8].filter((v) => v <= rateMax * 1.5);
  const traffic = runs.flatMap((r) => [
    { run: r.label, s: 0, mib: 0 },
    ...r.timeline.buckets.map((b) => ({ run: r.label, s: Math.min(b.endNs, r.timeline.endNs) / 1e9, mib: b.cumulativeBytes / 1024 ** 2 })),
  ]);
  const marks = runs.flatMap((r) =>
    r.timeline.suspendNs >= 0
      ? [
          { run: r.label, event: 'suspend', s: r.timeline.suspendNs / 1e9 },
          ...(r.timeline.resumeNs >= 0 ? [{ run: r.label, event: 'resume', s: r.timeline.resumeNs / 1e9 }] : []),
        ]
      : [],
  );
  const bands = runs.flatMap((r) => (r.timeline.suspendNs >= 0 && r.timeline.resumeNs >= 0 ? [{ run: r.label, s: r.timeline.suspendNs / 1e9, s2: r.timeline.resumeNs / 1e9 }] : []));
  const xMax = Math.max(...runs.map((r) => r.timeline.endNs / 1e9), 1e-3);
  const x = { field: 's', type: 'quantitative' as const, title: 'wall time (s)', scale: { domain: [0, xMax] } };
  const markLayers = (withRules: boolean) => [
    {
      data: { values: bands },
      mark: { type: 'rect' as const, opacity: 0.12 },
      encoding: { x, x2: { field: 's2' }, color },
    },
    ...(withRules
      ? [
          {
            name: CHART_MARKS.suspendResume,
            data: { values: marks },
            mark: { type: 'rule' as const, strokeWidth: 1.5 },
            encoding: {
              x,
              color,
              strokeDash: { field: 'event', type: 'nominal' as const, title: null, scale: { domain: ['suspend', 'resume'], range: [[5, 3], [1, 0]] }, legend: { orient: 'top' } },
              tooltip: [{ field: 'run' }, { field: 'event' }, { field: 's', title: 'wall time (s)', format: '.6f' }],
            },
          },
        ]
      : []),
  ];
  return {
    $schema: SCHEMA,
    config: CONFIG,
    title: { text: 'Dirty rate and traffic over wall time', subtitle: 'dashed rule: suspend; solid rule: resume; shaded: downtime' },
    vconcat: [
      {
        width: FULL_WIDTH - 60,
        height: 170,
        layer: [
          {
            name: CHART_MARKS.dirtyRate,
            data: { values: rate },
            mark: { type: 'line', interpolate: 'step-after', strokeWidth: 2 },
            encoding: { x, y: { field: 'rate', type: 'quantitative', title: 'dirty pages / s (symlog)', scale: { type: 'symlog' }, axis: { values: rateTicks, labelExpr: "datum.value >= 1000 ? format(datum.value / 1000, ',') + 'k' : format(datum.value, ',')" } }, color, tooltip: [{ field: 'run' }, { field: 'round' }, { field: 'rate', format: ',.0f' }] },
          },
          ...markLayers(true),
        ],
      },
      {
        width: FULL_WIDTH - 60,
        height: 170,
        layer: [
          {
            name: CHART_MARKS.traffic,
            data: { values: traffic },
            mark: { type: 'line', strokeWidth: 2 },
            encoding: { x, y: { field: 'mib', type: 'quantitative', title: 'sent, cumulative (MiB)' }, color },
          },
          ...markLayers(false),
        ],
      },
    ],
  };
}

/**
 * Exits and faults by kind over wall time (per second, in each run's
 * buckets), one row per run, and below them the share of vCPU time those
 * exits took: the slowdown they caused.
 */
export function exitsChart(runs: readonly RunReport[]): TopLevelSpec {
  const exits = runs.flatMap((r) =>
    r.timeline.buckets.flatMap((b) =>
      Object.entries(b.exitsByKind).map(([kind, count]) => ({ run: r.label, kind, s: b.startNs / 1e9, s2: b.endNs / 1e9, perSec: (count * 1e9) / (b.endNs - b.startNs), count })),
    ),
  );
  const kinds = [...new Set(exits.map((e) => e.kind))].sort();
  const slowdown = runs.flatMap((r) => {
    const bs = r.timeline.buckets;
    const pts = bs.map((b) => ({ run: r.label, s: b.startNs / 1e9, pct: b.exitSlowdown * 100 }));
    const last = bs[bs.length - 1];
    if (last) pts.push({ run: r.label, s: Math.min(last.endNs, r.timeline.endNs) / 1e9, pct: last.exitSlowdown * 100 });
    return pts;
  });
  const xMax = Math.max(...runs.map((r) => r.timeline.endNs / 1e9), 1e-3);
  const x = { field: 's', type: 'quantitative' as const, title: 'wall time (s)', scale: { domain: [0, xMax] } };
  return {
    $schema: SCHEMA,
    config: CONFIG,
    title: { text: 'Exits and faults over wall time, and the guest slowdown they caused', subtitle: 'exits per second by kind, in each run’s time buckets; slowdown = exit stall / vCPU time' },
    vconcat: [
      {
        data: { values: exits },
        facet: { row: { field: 'run', type: 'nominal', title: null, sort: runs.map((r) => r.label), header: { labelAngle: 0, labelAlign: 'left' } } },
        spec: {
          name: CHART_MARKS.exits,
          width: FULL_WIDTH - 120,
          height: 90,
          mark: { type: 'rect' },
          encoding: {
            x,
            x2: { field: 's2' },
            tooltip: [{ field: 'run' }, { field: 'kind' }, { field: 'count', type: 'quantitative', title: 'exits' }, { field: 's', title: 'from (s)', format: '.4f' }, { field: 's2', title: 'to (s)', format: '.4f' }],
            y: { field: 'perSec', type: 'quantitative', stack: 'zero', title: 'exits / s' },
            color: { field: 'kind', type: 'nominal', title: 'exit kind', scale: { domain: kinds, scheme: 'tableau10' }, legend: { orient: 'right' } },
          },
        },
        resolve: { scale: { y: 'independent' } },
      },
      {
        name: 'slowdown_view',
        width: FULL_WIDTH - 120,
        height: 130,
        data: { values: slowdown },
        layer: [
          {
            name: CHART_MARKS.slowdown,
            mark: { type: 'line', interpolate: 'step-after', strokeWidth: 2 },
            encoding: {
              x,
              y: { field: 'pct', type: 'quantitative', title: 'slowdown from exits (%)' },
              color: { field: 'run', type: 'nominal', title: null, scale: runColor(runs), legend: { orient: 'right' } },
            },
          },
        ],
      },
    ],
    resolve: { scale: { color: 'independent' } },
  };
}
