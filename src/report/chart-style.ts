import type { RunReport } from './report-data.js';

/**
 * What every chart of the report shares: the vega-lite schema, fonts,
 * run colours and strokes, and the wall-time axis over the report's window
 * (the union of the runs' windows, so runs compared side by side share
 * one time scale). Wall time is drawn in seconds.
 */

export const SCHEMA = 'https://vega.github.io/schema/vega-lite/v6.json';
export const FULL_WIDTH = 860;
export const RUN_COLORS = ['#4e79a7', '#f28e2b', '#59a14f', '#e15759', '#76b7b2', '#edc948', '#b07aa1', '#ff9da7', '#9c755f', '#bab0ac'];
/** Dash patterns by run, so overlapping lines stay apart in grey print too. */
const RUN_DASHES = [[1, 0], [6, 3], [2, 2], [8, 3, 2, 3], [4, 4]];

export const CONFIG = {
  font: 'Helvetica, Arial, sans-serif',
  background: 'white',
  title: { anchor: 'start', fontSize: 14, subtitleFontSize: 11, subtitleColor: '#555' },
  axis: { labelFontSize: 10, titleFontSize: 11 },
  legend: { labelFontSize: 11, titleFontSize: 11 },
  header: { labelFontSize: 12 },
} as const;

export function runColorScale(runs: readonly RunReport[]) {
  return { domain: runs.map((r) => r.label), range: runs.map((_, i) => RUN_COLORS[i % RUN_COLORS.length]!) };
}

export function runDashScale(runs: readonly RunReport[]) {
  return { domain: runs.map((r) => r.label), range: runs.map((_, i) => RUN_DASHES[i % RUN_DASHES.length]!) };
}

/** Colour and dash by run, one legend for both. */
export function runStroke(runs: readonly RunReport[]) {
  const legend = { orient: 'top' as const, symbolType: 'stroke', symbolOpacity: 1, symbolStrokeWidth: 2.5, labelLimit: 400 };
  return {
    color: { field: 'run', type: 'nominal' as const, title: null, scale: runColorScale(runs), legend },
    strokeDash: { field: 'run', type: 'nominal' as const, title: null, scale: runDashScale(runs), legend },
  };
}

/** The report's window: from the earliest run's start to the latest run's end, in seconds. */
export function windowDomainS(runs: readonly RunReport[]): [number, number] {
  const start = Math.min(...runs.map((r) => r.timeline.window.startNs));
  const end = Math.max(...runs.map((r) => r.timeline.window.endNs));
  return [start / 1e9, Math.max(end, start + 1000) / 1e9];
}

/** The wall-time x channel over the window. */
export function timeX(runs: readonly RunReport[], title: string | null = 'wall time (s)') {
  return { field: 's', type: 'quantitative' as const, title, scale: { domain: windowDomainS(runs), nice: false, zero: false } };
}

/** Suspend (dashed) and resume (solid) rules of each run, in its colour, over a time chart; `named` names them. */
export function downtimeMarks(runs: readonly RunReport[], named = false) {
  const x = timeX(runs);
  const rule = (event: 'suspend' | 'resume', dash: number[]) => ({
    ...(named ? { name: `${event}_rule` } : {}),
    data: {
      values: runs.flatMap((r) => {
        const m = r.timeline.migration;
        const at = event === 'suspend' ? m.suspendNs : m.suspendNs >= 0 ? m.resumeNs : -1;
        return at >= 0 ? [{ run: r.label, event, s: at / 1e9 }] : [];
      }),
    },
    mark: { type: 'rule' as const, strokeWidth: 1.2, opacity: 0.8, clip: true, strokeDash: dash },
    encoding: {
      x,
      color: { field: 'run', type: 'nominal' as const, title: null, scale: runColorScale(runs) },
      tooltip: [{ field: 'run' }, { field: 'event' }, { field: 's', title: 'wall time (s)', format: '.6f' }],
    },
  });
  return [rule('suspend', [5, 3]), rule('resume', [1, 0])];
}

/** A count in few characters: 850, 12.3k, 1.2M. */
export function shortCount(n: number): string {
  const a = Math.abs(n);
  if (a >= 1e6) return `${+(n / 1e6).toFixed(a >= 1e7 ? 0 : 1)}M`;
  if (a >= 1e3) return `${+(n / 1e3).toFixed(a >= 1e5 ? 0 : 1)}k`;
  return String(Math.round(n));
}

/** Downtime parts in the order they happen, with their colours. */
/** The additive parts of a downtime, in order (deviceStateNs is a share of stateNs; deviceLoadNs, when given, overlaps the final transfer). */
export const DOWNTIME_PARTS: readonly { key: Exclude<keyof RunReport['summary']['downtime'], 'deviceStateNs' | 'deviceLoadNs'>; label: string; color: string }[] = [
  { key: 'suspendNs', label: 'suspend', color: '#9e9e9e' },
  { key: 'finalCleanNs', label: 'final clean', color: '#f28e2b' },
  { key: 'finalPagesNs', label: 'final pages', color: '#e15759' },
  { key: 'canonicaliseNs', label: 'canonicalisation', color: '#b07aa1' },
  { key: 'stateNs', label: 'vCPU/device state', color: '#4e79a7' },
  { key: 'resumeNs', label: 'resume', color: '#59a14f' },
];

/** The earliest enable and the latest end among the runs, in seconds; undefined when none migrated. */
export function migrationSpanS(runs: readonly RunReport[]): [number, number] | undefined {
  const begun = runs.filter((r) => r.timeline.migration.enableNs >= 0);
  if (!begun.length) return undefined;
  return [Math.min(...begun.map((r) => r.timeline.migration.enableNs)) / 1e9, Math.max(...begun.map((r) => r.timeline.migration.endNs)) / 1e9];
}

/**
 * An invisible rect over the migration (the earliest enable to the latest
 * end) in a time view, named `migration_span_<id>`: it draws nothing, but
 * says where the migration lies on that view's x scale, so a reader of the
 * SVG (the browser test) can check the view's marks against it.
 */
export function migrationBand(runs: readonly RunReport[], id: string, x: object) {
  const span = migrationSpanS(runs);
  if (!span) return [];
  return [{ name: `migration_span_${id}`, data: { values: [{ s: span[0], s2: span[1] }] }, mark: { type: 'rect' as const, opacity: 0, clip: true }, encoding: { x, x2: { field: 's2' } } }];
}
