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

/** A fleet run as one self-contained HTML page: the Gantt of migrations per source and destination host, link use, the table and the events. */
export async function fleetReportHtml(r: FleetResult, title: string): Promise<string> {
  const { renderSvg } = await import('./render-svg.js');
  const gantt = await renderSvg(ganttChart(r));
  const links = await renderSvg(linkChart(r));
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
<h2>Links</h2>
<figure data-chart="links">
${links}
<figcaption>Bandwidth allocated on each NIC direction and link by max-min sharing, from each recomputation (a stream started, ended or changed its cap).</figcaption>
</figure>
<h2>Events</h2>
<table><tr><th>time</th><th>VM</th><th>event</th><th>detail</th></tr>
${events}
</table>`);
}
