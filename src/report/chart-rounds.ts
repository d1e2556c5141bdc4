import type { TopLevelSpec } from 'vega-lite';
import { CONFIG, DOWNTIME_PARTS, FULL_WIDTH, migrationBand, SCHEMA, shortCount, timeX, windowDomainS } from './chart-style.js';
import type { RunReport } from './report-data.js';

/**
 * The rounds in time (a Gantt chart), one block per run: a bar per round
 * from its start to its end with the pages it sent and the pages dirtied
 * meanwhile, the log-dirty operations as ticks (ENABLE, PEEK, CLEAN: a
 * sync, FINAL), suspend-to-resume as its own bar split into its parts, and
 * what the policy adds: QEMU's throttle steps; post-copy's faults on pages
 * not yet received; Remus's epochs. Below a QEMU run, its pending bytes
 * against the switch-over threshold; below a post-copy run, its faults and
 * their waits. Everything comes from the run events and the summary fold.
 */

const LANE_ROUNDS = 'rounds';
const LANE_OPS = 'log-dirty ops';
const LANE_DOWN = 'downtime';
const LANE_THROTTLE = 'throttle';
const LANE_EPOCHS = 'Remus epochs';
const LANE_FAULTS = 'post-copy faults';
const OP_COLORS = { domain: ['logdirty_enable', 'peek', 'clean', 'final'], range: ['#59a14f', '#bab0ac', '#4e79a7', '#e15759'] };
const PX_PER_CHAR = 5.6;

function lanes(r: RunReport): string[] {
  const out = [LANE_ROUNDS, LANE_OPS];
  if (r.timeline.migration.suspendNs >= 0) out.push(LANE_DOWN);
  if (r.summary.throttleSteps.length) out.push(LANE_THROTTLE);
  if (r.summary.epochs.length) out.push(LANE_EPOCHS);
  if (r.summary.postcopyFaults > 0) out.push(LANE_FAULTS);
  return out;
}

/** The x channel over [d0, d1] seconds. */
function xOver(d0: number, d1: number) {
  return { field: 's', type: 'quantitative' as const, title: null, scale: { domain: [d0, d1], nice: false, zero: false } };
}

/**
 * When the first full pass fills most of the window, the later rounds and
 * the downtime are slivers at its end: they get a second, zoomed Gantt,
 * from a little before the second round to the end of the window.
 */
function zoomDomain(r: RunReport, d1: number): [number, number] | undefined {
  const rounds = r.summary.rounds;
  const first = rounds[0];
  const second = rounds[1];
  if (!first || !second) return undefined;
  const w = r.timeline.window;
  const end = Math.min(r.timeline.migration.endNs, d1 * 1e9);
  if (first.endNs - first.startNs < 0.5 * (end - w.startNs)) return undefined;
  const margin = 0.04 * (end - second.startNs);
  return [(second.startNs - margin) / 1e9, (end + margin) / 1e9];
}

function ganttOf(r: RunReport, domain: [number, number], width: number, title: string, id: string) {
  const [d0, d1] = domain;
  const pxPerS = width / Math.max(d1 - d0, 1e-9);
  const x = xOver(d0, d1);
  const laneList = lanes(r);
  const y = { field: 'lane', type: 'nominal' as const, title: null, sort: laneList, scale: { domain: laneList }, axis: { labelFontSize: 10, labelLimit: 160 } };
  const inWindow = (s: number, s2: number) => s2 >= d0 && s <= d1;
  const rounds = r.summary.rounds
    .map((rd) => {
      const s = rd.startNs / 1e9;
      const s2 = Math.max(rd.endNs, rd.startNs) / 1e9;
      const dirtied = rd.dirtyPages >= 0 ? `${shortCount(rd.dirtyPages)} dirtied` : '';
      const full = `round ${rd.round}: ${shortCount(rd.pagesSent)} sent${dirtied ? `, ${dirtied}` : ''}`;
      const px = (Math.min(s2, d1) - Math.max(s, d0)) * pxPerS;
      const text = px > full.length * PX_PER_CHAR + 6 ? full : px > 3 * PX_PER_CHAR + 4 ? `r${rd.round}` : '';
      return { lane: LANE_ROUNDS, s, s2, round: rd.round, parity: rd.round % 2 === 0 ? 'even' : 'odd', sent: rd.pagesSent, dirtied: rd.dirtyPages, text, mid: (Math.max(s, d0) + Math.min(s2, d1)) / 2 };
    })
    .filter((b) => inWindow(b.s, b.s2));
  const ops = r.timeline.syncs.filter((o) => inWindow(o.atNs / 1e9, o.atNs / 1e9)).map((o) => ({ lane: LANE_OPS, s: o.atNs / 1e9, op: o.kind, dirty: o.dirtyPages, costUs: o.costNs / 1e3 }));
  const m = r.timeline.migration;
  let at = m.suspendNs;
  const down = m.suspendNs >= 0
    ? DOWNTIME_PARTS.flatMap((p) => {
        const ns = r.summary.downtime[p.key];
        const from = at;
        at += ns;
        return ns > 0 ? [{ lane: LANE_DOWN, s: from / 1e9, s2: (from + ns) / 1e9, part: p.label, ms: ns / 1e6 }] : [];
      })
    : [];
  // The label goes after the bar, or before it when the bar ends near the right edge.
  const downEndS = (m.suspendNs + r.summary.downtimeNs) / 1e9;
  const downText = `downtime ${(r.summary.downtimeNs / 1e6).toFixed(2)} ms`;
  const labelLeft = (d1 - downEndS) * pxPerS < downText.length * PX_PER_CHAR + 8;
  const downLabel = m.suspendNs >= 0 ? [{ lane: LANE_DOWN, s: labelLeft ? m.suspendNs / 1e9 : downEndS, text: downText }] : [];
  const throttle = r.summary.throttleSteps.map((t) => ({ lane: LANE_THROTTLE, s: t.atNs / 1e9, text: `${t.pct}%` }));
  const epochs = r.summary.epochs.map((e) => ({ lane: LANE_EPOCHS, s: e.atNs / 1e9, s2: (e.atNs + e.pauseNs) / 1e9, epoch: e.epoch, dirty: e.dirtyPages, pauseMs: e.pauseNs / 1e6 }));
  const faults = r.timeline.buckets.filter((b) => b.postcopyFaults > 0).map((b) => ({ lane: LANE_FAULTS, s: b.startNs / 1e9, s2: b.endNs / 1e9, faults: b.postcopyFaults, waitUs: b.postcopyWaitNs / b.postcopyFaults / 1e3 }));
  const partColor = { field: 'part', type: 'nominal' as const, title: 'downtime part', scale: { domain: DOWNTIME_PARTS.map((p) => p.label), range: DOWNTIME_PARTS.map((p) => p.color) }, legend: null };
  return {
    title: { text: title, fontSize: 12, anchor: 'start' as const },
    width,
    height: { step: 24 },
    layer: [
      ...migrationBand([r], id, x),
      {
        name: `round_bars_${id}`,
        data: { values: rounds },
        mark: { type: 'bar' as const, clip: true, color: '#4e79a7', stroke: 'white', strokeWidth: 1, height: 18 },
        encoding: {
          x,
          x2: { field: 's2' },
          y,
          opacity: { field: 'parity', type: 'ordinal' as const, scale: { domain: ['even', 'odd'], range: [1, 0.6] }, legend: null },
          tooltip: [{ field: 'round' }, { field: 'sent', title: 'pages sent', format: ',' }, { field: 'dirtied', title: 'pages dirtied (CLEAN at its end)', format: ',' }, { field: 's', title: 'from (s)', format: '.6f' }, { field: 's2', title: 'to (s)', format: '.6f' }],
        },
      },
      { name: `round_labels_${id}`, data: { values: rounds.filter((b) => b.text) }, mark: { type: 'text' as const, color: 'white', fontSize: 10, clip: true }, encoding: { x: { ...x, field: 'mid' }, y, text: { field: 'text', type: 'nominal' as const } } },
      {
        name: `sync_ticks_${id}`,
        data: { values: ops },
        mark: { type: 'tick' as const, thickness: 1.5, size: 16, clip: true },
        encoding: { x, y, color: { field: 'op', type: 'nominal' as const, title: 'log-dirty op', scale: OP_COLORS, legend: { orient: 'top' as const } }, tooltip: [{ field: 'op' }, { field: 'dirty', title: 'dirty pages', format: ',' }, { field: 'costUs', title: 'cost (us)', format: ',.1f' }, { field: 's', title: 'at (s)', format: '.6f' }] },
      },
      ...(down.length
        ? [
            { name: `downtime_parts_${id}`, data: { values: down }, mark: { type: 'bar' as const, clip: true, height: 18 }, encoding: { x, x2: { field: 's2' }, y, fill: partColor, tooltip: [{ field: 'part' }, { field: 'ms', title: 'ms', format: ',.3f' }] } },
            { name: `downtime_label_${id}`, data: { values: downLabel }, mark: { type: 'text' as const, align: labelLeft ? ('right' as const) : ('left' as const), dx: labelLeft ? -4 : 4, fontSize: 10, clip: true }, encoding: { x, y, text: { field: 'text', type: 'nominal' as const } } },
          ]
        : []),
      ...(throttle.length
        ? [
            { name: `throttle_steps_${id}`, data: { values: throttle }, mark: { type: 'tick' as const, color: '#b07aa1', thickness: 2, size: 16, clip: true }, encoding: { x, y } },
            { name: `throttle_labels_${id}`, data: { values: throttle }, mark: { type: 'text' as const, align: 'left' as const, dx: 3, fontSize: 9, clip: true }, encoding: { x, y, text: { field: 'text', type: 'nominal' as const } } },
          ]
        : []),
      ...(epochs.length
        ? [{ name: `epoch_bars_${id}`, data: { values: epochs }, mark: { type: 'bar' as const, color: '#76b7b2', clip: true, height: 18, minBandSize: 2 }, encoding: { x, x2: { field: 's2' }, y, tooltip: [{ field: 'epoch' }, { field: 'dirty', title: 'dirty pages', format: ',' }, { field: 'pauseMs', title: 'pause (ms)', format: ',.3f' }] } }]
        : []),
      ...(faults.length
        ? [{ name: `postcopy_faults_${id}`, data: { values: faults }, mark: { type: 'bar' as const, color: '#e15759', clip: true, height: 18 }, encoding: { x, x2: { field: 's2' }, y, tooltip: [{ field: 'faults', format: ',' }, { field: 'waitUs', title: 'mean wait (us)', format: ',.1f' }] } }]
        : []),
    ],
  };
}

/** QEMU: pending bytes (a lower bound after each sync) against the threshold, with throttle steps. */
function qemuPanel(r: RunReport, runs: readonly RunReport[], width: number, id: string) {
  const x = timeX(runs, null);
  const mib = (b: number) => b / 1024 ** 2;
  const remaining = r.timeline.remaining.map((p) => ({ s: p.atNs / 1e9, v: mib(p.bytes), series: 'remaining (pending)' }));
  const threshold = r.timeline.threshold.flatMap((t) => [
    { s: t.fromNs / 1e9, v: mib(t.bytes), series: 'threshold' },
    { s: t.toNs / 1e9, v: mib(t.bytes), series: 'threshold' },
  ]);
  return {
    width,
    height: 110,
    title: {
      text: `${r.label}: QEMU's pending bytes (blue) and switch-over threshold (red, dashed)`,
      subtitle: ['pending: memory less what was sent, plus what each sync found dirty (a lower bound after the first sync)', 'threshold: bytes sent in each 100 ms window, per second, × downtime-limit'],
      fontSize: 11,
      subtitleFontSize: 10,
      anchor: 'start' as const,
    },
    layer: [
      ...migrationBand([r], `remaining_${id}`, x),
      { name: `remaining_${id}`, data: { values: remaining }, mark: { type: 'line' as const, interpolate: 'linear' as const, clip: true, strokeWidth: 1.8, color: '#4e79a7' }, encoding: { x, y: { field: 'v', type: 'quantitative' as const, title: 'MiB (symlog)', scale: { type: 'symlog' as const } } } },
      { name: `threshold_${id}`, data: { values: threshold }, mark: { type: 'line' as const, clip: true, strokeDash: [4, 3], strokeWidth: 1.5, color: '#e15759' }, encoding: { x, y: { field: 'v', type: 'quantitative' as const } } },
    ],
  };
}

/** Post-copy: faults per second and their mean wait over the window. */
function faultsPanel(r: RunReport, runs: readonly RunReport[], width: number, id: string) {
  const x = timeX(runs, null);
  const values = r.timeline.buckets.filter((b) => b.postcopyFaults > 0).map((b) => ({ s: b.startNs / 1e9, s2: b.endNs / 1e9, perSec: (b.postcopyFaults * 1e9) / (b.endNs - b.startNs), waitUs: b.postcopyWaitNs / b.postcopyFaults / 1e3 }));
  return {
    width,
    height: 90,
    title: { text: `${r.label}: post-copy faults (bars, per second) and their mean wait (line, us)`, fontSize: 11, anchor: 'start' as const },
    layer: [
      ...migrationBand([r], `fault_rate_${id}`, x),
      { name: `fault_rate_${id}`, data: { values }, mark: { type: 'rect' as const, color: '#e15759', opacity: 0.7, clip: true }, encoding: { x, x2: { field: 's2' }, y: { field: 'perSec', type: 'quantitative' as const, title: 'faults/s' } } },
      { name: `fault_wait_${id}`, data: { values }, mark: { type: 'line' as const, color: '#333', interpolate: 'step-after' as const, clip: true }, encoding: { x, y: { field: 'waitUs', type: 'quantitative' as const, title: 'wait (us)' } } },
    ],
    resolve: { scale: { y: 'independent' } },
  };
}

export function roundsChart(runs: readonly RunReport[]): TopLevelSpec {
  const width = FULL_WIDTH - 150;
  const domain = windowDomainS(runs);
  const blocks = runs.flatMap((r, i) => {
    const zoom = zoomDomain(r, domain[1]);
    return [
      ganttOf(r, domain, width, r.label, `${i}`),
      ...(zoom ? [ganttOf(r, zoom, width, `${r.label}: the last rounds and the downtime, zoomed (${zoom[0].toFixed(4)} s to ${zoom[1].toFixed(4)} s)`, `${i}z`)] : []),
    ...(r.timeline.remaining.length ? [qemuPanel(r, runs, width, `${i}`)] : []),
      ...(r.summary.postcopyFaults > 0 ? [faultsPanel(r, runs, width, `${i}`)] : []),
    ];
  });
  const last = blocks[blocks.length - 1] as { layer: { encoding: { x?: object } }[] };
  for (const l of last.layer) if (l.encoding.x) l.encoding.x = { ...l.encoding.x, title: 'wall time (s)' };
  return {
    $schema: SCHEMA,
    config: CONFIG,
    title: { text: 'Rounds in time', subtitle: 'a bar per round (pages sent, pages the CLEAN at its end found dirty); ticks: log-dirty operations; suspend to resume split into its parts' },
    vconcat: blocks,
    resolve: { scale: { color: 'shared', x: 'independent', y: 'independent' }, legend: { color: 'shared' } },
  } as TopLevelSpec;
}
