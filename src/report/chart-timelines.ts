import type { TopLevelSpec } from 'vega-lite';
import { CONFIG, downtimeMarks, FULL_WIDTH, migrationBand, runColorScale, runStroke, SCHEMA, timeX, windowDomainS } from './chart-style.js';
import type { RunReport, TimelineBucket } from './report-data.js';

/**
 * The report's pictures over wall time, on the window (by default the
 * migration, src/report/report-window.ts): what went on the wire and what
 * the guest dirtied, the exits the tracker took, and a strip of the whole
 * run that shows where the window lies in it. Each mark is named, so the
 * rendered SVG carries a class per mark (`throughput_mbit_marks`, ...).
 */

/** A step line's points: each bucket's value at its start, and the last one again at its end. */
function steps(r: RunReport, value: (b: TimelineBucket) => number): { run: string; s: number; v: number }[] {
  const bs = r.timeline.buckets;
  const pts = bs.map((b) => ({ run: r.label, s: b.startNs / 1e9, v: value(b) }));
  const last = bs[bs.length - 1];
  if (last) pts.push({ run: r.label, s: last.endNs / 1e9, v: value(last) });
  return pts;
}

/**
 * Throughput (Mbit/s and pages/s on the wire), dirty rate (pages per second
 * between CLEANs) and bytes sent so far, one line per run, in colour and
 * dash, with each run's suspend (dashed) and resume (solid) marked.
 */
export function throughputChart(runs: readonly RunReport[]): TopLevelSpec {
  const stroke = runStroke(runs);
  const x = timeX(runs);
  const perSec = (b: TimelineBucket) => 1e9 / (b.endNs - b.startNs);
  const mbit = runs.flatMap((r) => steps(r, (b) => (b.bytesSent * 8 * perSec(b)) / 1e6));
  const pages = runs.flatMap((r) => steps(r, (b) => b.pagesSent * perSec(b)));
  const sent = runs.flatMap((r) => steps(r, (b) => b.cumulativeBytes / 1024 ** 2));
  const rate = runs.flatMap((r) => {
    const segs = r.timeline.dirtyRate;
    const pts = segs.map((s) => ({ run: r.label, s: s.startNs / 1e9, v: s.pagesPerSec, round: s.round, dirtyPages: s.dirtyPages }));
    const last = segs[segs.length - 1];
    if (last) pts.push({ run: r.label, s: last.endNs / 1e9, v: last.pagesPerSec, round: last.round, dirtyPages: last.dirtyPages });
    return pts;
  });
  // QEMU sends a zero page as a flag in its header: millions of pages a
  // second beside tens of thousands. A log scale keeps both readable.
  const logTicks = { type: 'symlog' as const };
  const logAxis = { values: [0, 10, 100, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8], labelExpr: "datum.value >= 1e6 ? format(datum.value / 1e6, ',') + 'M' : datum.value >= 1e3 ? format(datum.value / 1e3, ',') + 'k' : format(datum.value, ',')" };
  const pagesMax = Math.max(1, ...pages.map((p) => p.v));
  const sending = pages.map((p) => p.v).filter((v) => v > 0).sort((a, b) => a - b);
  const pagesLog = pagesMax > 20 * (sending[Math.floor(sending.length / 2)] ?? pagesMax);
  const panel = (name: string, values: readonly object[], title: string, height = 120, showX = false, log = false) => ({
    width: FULL_WIDTH - 60,
    height,
    layer: [
      {
        name,
        data: { values },
        mark: { type: 'line' as const, interpolate: 'step-after' as const, strokeWidth: 1.8, clip: true },
        encoding: { x: { ...x, title: showX ? 'wall time (s)' : null }, y: { field: 'v', type: 'quantitative' as const, title: log ? `${title}, log` : title, ...(log ? { scale: logTicks, axis: { ...logAxis, values: logAxis.values.filter((v) => v <= pagesMax * 1.5) } } : {}) }, ...stroke, tooltip: [{ field: 'run' }, { field: 's', title: 'from (s)', format: '.4f' }, { field: 'v', title, format: ',.1f' }] },
      },
      ...downtimeMarks(runs, name === 'throughput_mbit'),
      ...migrationBand(runs, name, x),
    ],
  });
  return {
    $schema: SCHEMA,
    config: CONFIG,
    title: { text: 'Throughput and dirty rate over the migration', subtitle: 'sent: per time bucket; dirtied: pages each CLEAN reported, over the time since the one before; rules: suspend (dashed), resume (solid)' },
    vconcat: [
      panel('throughput_mbit', mbit, 'sent (Mbit/s)'),
      panel('throughput_pages', pages, 'sent (pages/s)', 120, false, pagesLog),
      panel('dirty_rate', rate, 'dirtied (pages/s)'),
      panel('traffic', sent, 'sent so far (MiB)', 110, true),
    ],
    resolve: { scale: { color: 'shared', strokeDash: 'shared' } },
  };
}

/**
 * The whole run, small: exits per second and MiB/s on the wire from the
 * first guest event to the end, with the window the other charts draw
 * shaded, so the migration is seen in its run.
 */
export function overviewChart(runs: readonly RunReport[]): TopLevelSpec {
  const stroke = runStroke(runs);
  const end = Math.max(...runs.map((r) => Math.max(r.timeline.overview.endNs, r.timeline.window.endNs))) / 1e9;
  const x = { field: 's', type: 'quantitative' as const, title: null, scale: { domain: [0, end], nice: false } };
  const series = (f: (b: RunReport['timeline']['overview']['buckets'][number]) => number) =>
    runs.flatMap((r) => {
      const bs = r.timeline.overview.buckets;
      const pts = bs.map((b) => ({ run: r.label, s: b.startNs / 1e9, v: f(b) * (1e9 / r.timeline.overview.bucketNs) }));
      const last = bs[bs.length - 1];
      if (last) pts.push({ run: r.label, s: last.endNs / 1e9, v: f(last) * (1e9 / r.timeline.overview.bucketNs) });
      return pts;
    });
  const [w0, w1] = windowDomainS(runs);
  const band = { data: { values: [{ s: w0, s2: w1 }] }, mark: { type: 'rect' as const, color: '#f2c744', opacity: 0.25 }, encoding: { x, x2: { field: 's2' } } };
  const panel = (name: string, values: readonly object[], title: string, withX: boolean) => ({
    width: FULL_WIDTH - 60,
    height: 44,
    layer: [
      { ...band, name: `${name}_window` },
      { name, data: { values }, mark: { type: 'line' as const, interpolate: 'step-after' as const, strokeWidth: 1.2 }, encoding: { x: { ...x, title: withX ? 'wall time (s), whole run' : null }, y: { field: 'v', type: 'quantitative' as const, title, axis: { tickCount: 2 } }, ...stroke } },
    ],
  });
  return {
    $schema: SCHEMA,
    config: CONFIG,
    title: { text: 'The whole run', subtitle: `shaded: the window the charts below draw (${w0.toFixed(3)} s to ${w1.toFixed(3)} s)` },
    vconcat: [panel('overview_exits', series((b) => b.exits), 'exits/s', false), panel('overview_sent', series((b) => (b.bytesSent * 8) / 1e6), 'Mbit/s', true)],
  };
}

/**
 * Exits and faults by kind over the window (per second, in each run's
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
  const slowdown = runs.flatMap((r) => steps(r, (b) => b.exitSlowdown * 100));
  const x = timeX(runs);
  return {
    $schema: SCHEMA,
    config: CONFIG,
    title: { text: 'Exits and faults over the migration, and the guest slowdown they caused', subtitle: 'exits per second by kind, in each run’s time buckets; slowdown = exit stall / vCPU time' },
    vconcat: [
      {
        // One colour per exit kind across the runs, one legend.
        vconcat: runs.map((r, i) => ({
        title: { text: r.label, fontSize: 12, anchor: 'start' as const },
        width: FULL_WIDTH - 120,
        height: 80,
        layer: [
          {
            name: `exits_${i}`,
            data: { values: exits.filter((e) => e.run === r.label) },
            mark: { type: 'rect' as const, clip: true },
            encoding: {
              x: { ...x, title: null },
              x2: { field: 's2' },
              tooltip: [{ field: 'run' }, { field: 'kind' }, { field: 'count', type: 'quantitative' as const, title: 'exits' }, { field: 's', title: 'from (s)', format: '.4f' }, { field: 's2', title: 'to (s)', format: '.4f' }],
              y: { field: 'perSec', type: 'quantitative' as const, stack: 'zero' as const, title: 'exits / s' },
              color: { field: 'kind', type: 'nominal' as const, title: 'exit kind', scale: { domain: kinds, scheme: 'tableau10' }, legend: { orient: 'right' as const } },
            },
          },
          ...migrationBand(runs, `exits_${i}`, x),
        ],
      })),
        resolve: { scale: { color: 'shared', y: 'independent' } },
      },
      {
        width: FULL_WIDTH - 120,
        height: 110,
        layer: [
          {
            name: 'slowdown',
            data: { values: slowdown },
            mark: { type: 'line', interpolate: 'step-after', strokeWidth: 1.8, clip: true },
            encoding: { x, y: { field: 'v', type: 'quantitative', title: 'slowdown from exits (%)' }, color: { field: 'run', type: 'nominal', title: null, scale: runColorScale(runs), legend: { orient: 'right', labelLimit: 300 } }, strokeDash: { ...runStroke(runs).strokeDash, legend: null } },
          },
          ...migrationBand(runs, 'slowdown', x),
        ],
      },
    ],
    resolve: { scale: { color: 'independent', y: 'independent' } },
  };
}
