import type { TopLevelSpec } from 'vega-lite';
import type { FleetResult, FleetVmResult } from '../fleet/run-fleet.js';
import { formatBytes, formatDurationNs } from '../model/units.js';
import { esc, htmlDocument } from './html-document.js';

/** One bar of the Gantt: a VM's phase between two wall times (seconds). */
interface PhaseBar {
  readonly row: string;
  readonly phase: 'queued' | 'pre-copy' | 'downtime' | 'post-copy';
  readonly fromS: number;
  readonly toS: number;
}

/**
 * A migration's phases from its result: queued (request to start),
 * pre-copy (start to the stop: suspend, the controller's pause, or the
 * post-copy switch), downtime (the guest stopped), post-copy (the guest on
 * the destination while pages still arrive). An aborted migration is
 * pre-copy to its abort.
 */
export function phaseBars(v: FleetVmResult): PhaseBar[] {
  const row = `${v.from} → ${v.to}: ${v.vm}`;
  const s = (ns: number) => ns / 1e9;
  const bars: PhaseBar[] = [];
  if (v.startedAtNs > v.requestedAtNs) bars.push({ row, phase: 'queued', fromS: s(v.requestedAtNs), toS: s(v.startedAtNs >= 0 ? v.startedAtNs : v.endedAtNs) });
  if (v.startedAtNs < 0) return bars;
  if (v.outcome === 'postcopy' && v.postcopyAtNs >= 0) {
    const resumeNs = v.postcopyAtNs + v.downtimeNs;
    bars.push({ row, phase: 'pre-copy', fromS: s(v.startedAtNs), toS: s(v.postcopyAtNs) });
    bars.push({ row, phase: 'downtime', fromS: s(v.postcopyAtNs), toS: s(resumeNs) });
    bars.push({ row, phase: 'post-copy', fromS: s(resumeNs), toS: s(v.endedAtNs) });
    return bars;
  }
  const stopNs = v.endedAtNs - v.downtimeNs;
  bars.push({ row, phase: 'pre-copy', fromS: s(v.startedAtNs), toS: s(stopNs) });
  if (v.downtimeNs > 0) bars.push({ row, phase: 'downtime', fromS: s(stopNs), toS: s(v.endedAtNs) });
  return bars;
}

function ganttChart(r: FleetResult): TopLevelSpec {
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    width: 720,
    data: { values: r.vms.flatMap(phaseBars) as unknown as Record<string, unknown>[] },
    mark: { type: 'bar', height: { band: 0.7 } },
    encoding: {
      y: { field: 'row', type: 'nominal', title: null, sort: null },
      x: { field: 'fromS', type: 'quantitative', title: 'wall time (s)' },
      x2: { field: 'toS' },
      color: {
        field: 'phase',
        type: 'nominal',
        scale: { domain: ['queued', 'pre-copy', 'downtime', 'post-copy'], range: ['#bbbbbb', '#4c78a8', '#e45756', '#f58518'] },
      },
    },
  };
}

function linkChart(r: FleetResult): TopLevelSpec {
  const values: Record<string, unknown>[] = [];
  const used = r.linkUse.constraints.map((_, c) => r.linkUse.changes.some((ch) => ch.usedBytesPerSec[c]! > 0));
  for (const ch of r.linkUse.changes) {
    r.linkUse.constraints.forEach((name, c) => {
      if (used[c]) values.push({ link: name, t: ch.atNs / 1e9, mibPerSec: ch.usedBytesPerSec[c]! / 1024 ** 2 });
    });
  }
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    width: 720,
    height: 200,
    data: { values },
    mark: { type: 'line', interpolate: 'step-after' },
    encoding: {
      x: { field: 't', type: 'quantitative', title: 'wall time (s)' },
      y: { field: 'mibPerSec', type: 'quantitative', title: 'allocated (MiB/s)' },
      color: { field: 'link', type: 'nominal' },
    },
  };
}

/** One point of a VM's remaining bytes as its controller read them, at a time since its migration started. */
export interface RemainingPoint {
  readonly vm: string;
  readonly elapsedS: number;
  readonly remainingMiB: number;
}

/** A limit a controller holds a VM's migration to, as a time since its start. */
export interface BudgetRule {
  readonly vm: string;
  readonly elapsedS: number;
  readonly what: 'completion budget' | 'progress timeout';
}

/**
 * Each VM's remaining bytes as its controller read them (its polls:
 * KubeVirt's every 400 ms, Nova's every 500 ms), and the budget lines the
 * controller's 'budget' events set: the completion budget from the
 * migration's start (the last one set: KubeVirt doubles it when it pauses
 * the guest), and KubeVirt's progress timeout counted from the last read
 * at which the remaining bytes fell below the read before (its
 * progressWatermark rule), where it stands at the migration's end.
 */
export function remainingData(r: FleetResult): { points: RemainingPoint[]; rules: BudgetRule[] } {
  const points: RemainingPoint[] = [];
  const rules: BudgetRule[] = [];
  for (const v of r.vms) {
    if (v.startedAtNs < 0) continue;
    const since = (ns: number) => (ns - v.startedAtNs) / 1e9;
    // A record from before the controller's reads were kept has none.
    const readings = v.readings ?? [];
    for (const [atNs, bytes] of readings) points.push({ vm: v.vm, elapsedS: since(atNs), remainingMiB: bytes / 1024 ** 2 });
    const budgets = r.events.filter((e) => e.kind === 'budget' && e.vm === v.vm && e.budget);
    const b = budgets[budgets.length - 1]?.budget;
    if (b?.completionNs !== undefined) rules.push({ vm: v.vm, elapsedS: b.completionNs / 1e9, what: 'completion budget' });
    if (b?.progressTimeoutNs !== undefined) {
      let lastProgressNs = v.startedAtNs;
      let watermark = 0;
      for (const [atNs, bytes] of readings) {
        if (watermark === 0 || bytes < watermark) lastProgressNs = atNs;
        watermark = bytes;
      }
      rules.push({ vm: v.vm, elapsedS: since(lastProgressNs + b.progressTimeoutNs), what: 'progress timeout' });
    }
  }
  return { points, rules };
}

/** The remaining-bytes chart: one line per VM, its budget lines in its colour; time on a log scale, as budgets are often minutes beside a migration of seconds. */
export function remainingChart(r: FleetResult): TopLevelSpec {
  const { points, rules } = remainingData(r);
  const x = { field: 'elapsedS', type: 'quantitative', title: 'seconds since the migration started (log scale)', scale: { type: 'log' } } as const;
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    width: 720,
    height: 260,
    layer: [
      {
        data: { values: points as unknown as Record<string, unknown>[] },
        mark: { type: 'line', point: true, interpolate: 'step-after' },
        encoding: { x, y: { field: 'remainingMiB', type: 'quantitative', title: 'remaining (MiB), as read' }, color: { field: 'vm', type: 'nominal', title: 'VM' } },
      },
      {
        data: { values: rules as unknown as Record<string, unknown>[] },
        mark: { type: 'rule', strokeWidth: 1.5 },
        encoding: {
          x,
          color: { field: 'vm', type: 'nominal', title: 'VM' },
          strokeDash: { field: 'what', type: 'nominal', title: 'limit', scale: { domain: ['completion budget', 'progress timeout'], range: [[6, 3], [2, 2]] } },
        },
      },
    ],
  };
}

/** A fleet run as one self-contained HTML page: the Gantt of migrations per source and destination host, link use, the table and the events. */
export async function fleetReportHtml(r: FleetResult, title: string): Promise<string> {
  const { renderSvg } = await import('./render-svg.js');
  const gantt = await renderSvg(ganttChart(r));
  const links = await renderSvg(linkChart(r));
  const budgeted = r.vms.filter((v) => (v.readings ?? []).length > 0);
  const remaining = budgeted.length > 0 ? await renderSvg(remainingChart(r)) : '';
  const budgetRows = r.events
    .filter((e) => e.kind === 'budget')
    .map((e) => `<tr><td>${esc(formatDurationNs(e.atNs))}</td><td>${esc(e.vm)}</td><td>${esc(e.budget?.reads ?? '')}</td><td>${esc(e.detail)}</td></tr>`)
    .join('\n');
  const budgetSection =
    budgeted.length > 0
      ? `<h2>Remaining bytes against the budget</h2>
<figure data-chart="remaining">
${remaining}
<figcaption>Each VM's remaining bytes as ${esc(r.orchestrator)} read them at its polls, from the migration's start; dashed, the completion budget it set; dotted, where its progress timeout stood at the end (from the last read at which the remaining bytes fell).</figcaption>
</figure>
<table><tr><th>set at</th><th>VM</th><th>the controller reads</th><th>budget</th></tr>
${budgetRows}
</table>`
      : `<h2>Remaining bytes against the budget</h2>
<p>${esc(r.orchestrator)} reads no migration's figures: no budget to draw.</p>`;
  const rows = r.vms
    .map(
      (v) =>
        `<tr><td>${esc(v.vm)}</td><td>${esc(v.from)}</td><td>${esc(v.to)}</td><td>${esc(v.outcome)}</td><td>${esc(formatDurationNs(v.queuedNs))}</td><td>${esc(v.startedAtNs >= 0 ? formatDurationNs(v.totalNs) : '-')}</td><td>${esc(formatDurationNs(v.downtimeNs))}</td><td>${esc(formatBytes(v.bytesSent))}</td><td>${esc(v.reason)}</td></tr>`,
    )
    .join('\n');
  const events = r.events.map((e) => `<tr><td>${esc(formatDurationNs(e.atNs))}</td><td>${esc(e.vm)}</td><td>${esc(e.kind)}</td><td>${esc(e.detail)}</td></tr>`).join('\n');
  return htmlDocument(title, `body{font:14px/1.4 system-ui,sans-serif;margin:2em;max-width:1100px}table{border-collapse:collapse}td,th{border-bottom:1px solid #ddd;padding:2px 8px;text-align:left;vertical-align:top}`, `<h1>${esc(title)}</h1>
<p>${r.vms.length} migration(s) under ${esc(r.orchestrator)}, seed ${r.seed}; makespan ${esc(formatDurationNs(r.makespanNs))}.</p>
<h2>Migrations</h2>
<figure data-chart="gantt">
${gantt}
<figcaption>Each migration by source and destination host: queued (grey), pre-copy (blue), downtime (red: the guest stopped, from a controller's pause on), post-copy (orange).</figcaption>
</figure>
<table><tr><th>VM</th><th>from</th><th>to</th><th>outcome</th><th>queued</th><th>total</th><th>downtime</th><th>sent</th><th>why</th></tr>
${rows}
</table>
${budgetSection}
<h2>Links</h2>
<figure data-chart="links">
${links}
<figcaption>Bandwidth allocated on each NIC direction and link by max-min sharing, from each recomputation (a stream started, ended, went idle or sent again).</figcaption>
</figure>
<h2>Events</h2>
<table><tr><th>time</th><th>VM</th><th>event</th><th>detail</th></tr>
${events}
</table>`);
}
