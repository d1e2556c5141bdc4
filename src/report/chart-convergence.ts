import type { TopLevelSpec } from 'vega-lite';
import { LEGACY_MIN_PAGES, SPP_TARGET_DIRTY_COUNT } from '../reducers/migration/migration-options.js';
import { wrapLines } from '../util/wrap-lines.js';
import { CONFIG, FULL_WIDTH, SCHEMA, shortCount } from './chart-style.js';
import type { RunReport } from './report-data.js';

/**
 * Pages sent in each round beside the pages the CLEAN at its end reported
 * dirty: the convergence picture, one panel per run with its own linear
 * scale, every bar labelled with its value. The first full pass is often a
 * hundred times the later rounds: when it would flatten them, the scale is
 * set by the later rounds and the first pass is cut at the top, its value
 * written on it. The stop rule that fired heads the panel, and where it is
 * a page count (Xen's 50 dirty pages; QEMU's threshold in pages) it is
 * drawn as a dashed line.
 */

const SERIES = ['pages sent', 'pages dirtied'];
/** Above this many rounds a panel's bars are too narrow for labels. */
const MAX_LABELLED_ROUNDS = 14;

/** The stop rule as a page count, where it is one. */
function stopLine(r: RunReport): { pages: number; text: string } | undefined {
  const p = r.spec.migration.policy;
  if (p === 'xen') return { pages: SPP_TARGET_DIRTY_COUNT, text: 'stop when fewer dirty' };
  if (p === 'xen-legacy') return { pages: LEGACY_MIN_PAGES, text: 'stop when fewer sent or skipped' };
  const last = r.timeline.threshold[r.timeline.threshold.length - 1];
  if (p === 'qemu' && last) return { pages: Math.round(last.bytes / 4096), text: "QEMU's threshold in its last window" };
  return undefined;
}

/** A panel's head: the run, the stop rule that fired, what the dashed line is. */
function panelHead(r: RunReport, width: number): string[] {
  const stop = stopLine(r);
  return [r.label, ...wrapLines(`stop: ${r.summary.stopReason || r.summary.outcome}`, Math.max(24, Math.floor(width / 6))), ...(stop ? [`dashed: ${stop.text} (${shortCount(stop.pages)} pages)`] : [])];
}

function panel(r: RunReport, width: number, id: number, headLines: number) {
  const rounds = r.summary.rounds;
  const values = rounds.flatMap((round) => [
    { round: round.round, series: SERIES[0]!, pages: round.pagesSent },
    ...(round.dirtyPages >= 0 ? [{ round: round.round, series: SERIES[1]!, pages: round.dirtyPages }] : []),
  ]);
  const later = values.filter((v) => v.round > 0).map((v) => v.pages);
  const stop = stopLine(r);
  const laterMax = Math.max(1, ...later, stop ? stop.pages : 0);
  const max = Math.max(1, ...values.map((v) => v.pages));
  const cut = later.length > 0 && max > 4 * laterMax;
  const top = cut ? laterMax * 1.35 : max * 1.15;
  const labelled = values.map((v) => ({ ...v, shown: Math.min(v.pages, top), text: shortCount(v.pages) + (v.pages > top ? ' ↑' : '') }));
  const head = panelHead(r, width);
  const x = { field: 'round', type: 'ordinal' as const, title: 'round', axis: { labelAngle: 0 } };
  const xOffset = { field: 'series', type: 'nominal' as const, sort: SERIES };
  const y = { field: 'shown', type: 'quantitative' as const, title: 'pages (4 KiB), drawn', scale: { domain: [0, top], nice: false } };
  return {
    // Padded to the longest head, so the panels' plots line up.
    title: { text: [...head, ...Array.from({ length: Math.max(0, headLines - head.length) }, () => ' ')], fontSize: 12, anchor: 'start' as const },
    width,
    height: 200,
    data: { values: labelled },
    layer: [
      {
        name: `convergence_${id}`,
        mark: { type: 'bar' as const, tooltip: true },
        encoding: {
          x,
          xOffset,
          y,
          color: { field: 'series', type: 'nominal' as const, title: null, scale: { domain: SERIES, range: ['#4e79a7', '#e15759'] }, legend: { orient: 'top' as const } },
          tooltip: [{ field: 'round' }, { field: 'series' }, { field: 'pages', type: 'quantitative' as const, title: 'pages', format: 'd' }],
        },
      },
      ...(rounds.length <= MAX_LABELLED_ROUNDS
        ? [{ name: `convergence_labels_${id}`, mark: { type: 'text' as const, dy: -5, fontSize: 9, baseline: 'bottom' as const }, encoding: { x, xOffset, y, text: { field: 'text', type: 'nominal' as const, title: 'label' } } }]
        : []),
      ...(stop
        ? [
            {
              name: `stop_rule_${id}`,
              data: { values: [{ shown: stop.pages, text: stop.text }] },
              mark: { type: 'rule' as const, strokeDash: [4, 3], color: '#333' },
              encoding: { y },
            },
          ]
        : []),
    ],
  };
}

export function convergenceChart(runs: readonly RunReport[]): TopLevelSpec {
  const perRow = Math.min(runs.length, 3);
  const width = Math.max(200, Math.floor(FULL_WIDTH / perRow) - 70);
  const headLines = Math.max(...runs.map((r) => panelHead(r, width).length));
  const panels = runs.map((r, i) => panel(r, width, i, headLines));
  const rows: (typeof panels)[] = [];
  for (let i = 0; i < panels.length; i += perRow) rows.push(panels.slice(i, i + perRow));
  return {
    $schema: SCHEMA,
    config: CONFIG,
    title: { text: 'Convergence: pages sent and pages dirtied per round', subtitle: 'dirtied = pages the CLEAN that ended the round reported (the last: at suspend); each panel on its own linear scale; ↑ = cut at the top' },
    vconcat: rows.map((row) => ({ hconcat: row })),
    resolve: { scale: { color: 'shared' } },
  } as TopLevelSpec;
}
