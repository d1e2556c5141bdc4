import type { TopLevelSpec } from 'vega-lite';
import { formatBytes, formatCount, formatDurationNs } from '../model/units.js';
import { esc, htmlDocument } from './html-document.js';
import { convergenceChart, downtimeChart, exitsChart, overviewChart, roundsChart, throughputChart } from './report-charts.js';
import { migrationSpanS, windowDomainS } from './chart-style.js';
import { MAX_TIMELINE_BUCKETS, type RunReport } from './report-data.js';
import type { ReportWindow } from './report-window.js';
import { differingFacets, describeRun, sharedText } from './run-label.js';
import { bestOf } from '../api/best-of.js';
import { hasCustomCosts } from './reproduce-command.js';
import { DEFAULT_COSTS } from '../model/cost-model.js';
import { zeroPageWireBytes } from '../reducers/migration/qemu-data-path.js';

/**
 * The report as one self-contained HTML file: the charts are inline SVG
 * rendered at build time, the styles are inline CSS, and there is no
 * script and no external resource, so it opens anywhere, offline, and
 * reads the same in ten years.
 */

export interface ReportDocument {
  /** 'compare': runs simulated now, side by side; 'runs': run traces side by side. */
  readonly mode: 'compare' | 'runs';
  /** The stretch of wall time the timelines draw. */
  readonly window: ReportWindow;
  readonly runs: readonly RunReport[];
  /** Command lines that reproduce the report and its runs, each with what it does. */
  readonly commands: readonly { readonly what: string; readonly line: string }[];
}

/**
 * The charts, in the order the report shows them; `id` is the figure's
 * data-chart attribute, `overTime` says it draws the window's wall time
 * (its figure carries the window, for a reader or a test to check).
 */
export const REPORT_CHARTS: readonly { id: string; caption: string; overTime: boolean; spec: (runs: readonly RunReport[]) => TopLevelSpec }[] = [
  { id: 'overview', caption: 'The whole run, small: exits and traffic from the first guest event to the end; shaded, the window the timelines below draw.', overTime: false, spec: overviewChart },
  { id: 'rounds', caption: 'Each round in time with its pages sent and dirtied, the log-dirty operations, and suspend to resume split into its parts; QEMU: pending bytes against the threshold, throttle steps; post-copy: faults and waits; Remus: epochs.', overTime: true, spec: roundsChart },
  { id: 'convergence', caption: 'Pages sent and pages dirtied per round, each run on its own scale, with the stop rule that fired.', overTime: false, spec: convergenceChart },
  { id: 'downtime', caption: 'Downtime broken into its parts: suspend, final clean, final pages, canonicalisation (PV), vCPU and device state, resume.', overTime: false, spec: downtimeChart },
  { id: 'throughput', caption: 'Throughput on the wire (Mbit/s, pages/s), dirty rate between CLEANs, and bytes sent so far; suspend and resume marked.', overTime: true, spec: throughputChart },
  { id: 'exits', caption: 'Exits and faults by kind over the window, and the share of vCPU time they took.', overTime: true, spec: exitsChart },
];

/** Renders the charts and writes the document; `onChart` gets the number of charts drawn so far. */
export async function reportHtml(doc: ReportDocument, onChart?: (done: number) => void): Promise<string> {
  // Vega is loaded here, not with the module: it takes about half a second,
  // and every migsim command would pay it at start.
  const { renderSvg } = await import('./render-svg.js');
  const figures: string[] = [];
  const [w0, w1] = windowDomainS(doc.runs);
  const migration = migrationSpanS(doc.runs);
  for (const c of REPORT_CHARTS) {
    const svg = scopedClipIds(await renderSvg(c.spec(doc.runs)), c.id);
    const attrs = c.overTime ? ` data-window-s="${w0} ${w1}"${migration ? ` data-migration-s="${migration[0]} ${migration[1]}"` : ''}` : '';
    figures.push(`<figure data-chart="${c.id}"${attrs}>\n${svg}\n<figcaption>${esc(c.caption)}</figcaption>\n</figure>`);
    onChart?.(figures.length);
  }
  const title = reportTitle(doc);
  return htmlDocument(title, STYLE, `<header>
<h1>${esc(title)}</h1>
<p class="lede">${esc(lede(doc))}</p>
${doc.commands[0] ? `<pre class="command">${esc(doc.commands[0].line)}</pre>` : ''}
</header>
<section id="runs">
<h2>Runs</h2>
${headerTable(doc.runs)}
</section>
<section id="summary">
<h2>Summary</h2>
${summaryTable(doc.runs)}
<p class="note">* marks the lowest value among completed runs, on rows where lower is better, when they differ. Times are wall time; pages are 4 KiB.</p>
</section>
<section id="rounds">
<h2>Rounds</h2>
${roundsTables(doc.runs)}
<p class="note">remaining: pages the CLEAN ending the round reported dirty (- when none ended it); expected downtime: those pages at link speed, what stopping after the round would have cost (QEMU's expected-downtime).</p>
</section>
<section id="charts">
<h2>Charts</h2>
${figures.join('\n')}
<p class="note">${esc(windowNote(doc))} Timelines fold the run events into at most ${MAX_TIMELINE_BUCKETS} buckets per run (${doc.runs.map((r) => `${esc(r.label)}: ${esc(formatDurationNs(r.timeline.bucketNs))}`).join(', ')}); bytes not carried by page events (vCPU and device state) are counted at resume.</p>
</section>
<section id="reproduce">
<h2>Reproduce</h2>
${doc.commands.map((c) => `<p>${esc(c.what)}</p>\n<pre>${esc(c.line)}</pre>`).join('\n')}
${doc.runs.some((r) => hasCustomCosts(r.spec)) ? '<p class="note">COSTS.json: the cost model recorded in the run (listed under Runs), saved as JSON.</p>' : ''}
</section>`);
}

/**
 * Vega numbers the clip paths of every SVG it renders from one counter
 * for the process: the same chart gets other ids in a second report, and
 * two figures of one page could share an id. Each figure's ids are renamed
 * in order of appearance under its chart id, so the page is the same bytes
 * whatever was drawn before, and every url(#...) finds its own clip path.
 */
function scopedClipIds(svg: string, chart: string): string {
  const names = new Map<string, string>();
  return svg.replace(/\bclip\d+\b/g, (id) => {
    let n = names.get(id);
    if (!n) names.set(id, (n = `${chart}-clip${names.size + 1}`));
    return n;
  });
}

function reportTitle(doc: ReportDocument): string {
  const first = doc.runs[0];
  if (!first) return 'migsim report (no runs)';
  if (doc.runs.length === 1) return describeRun(first);
  const shared = sharedText(doc.runs);
  return `${doc.runs.map((r) => r.label).join(' vs ')}${shared ? ` (${shared})` : ''}`;
}

function lede(doc: ReportDocument): string {
  const first = doc.runs[0];
  if (!first) return '';
  const h = first.header;
  const guest = `${h.guest.type.toUpperCase()} ${h.guest.paging} guest, ${formatBytes(h.guest.memPages * 4096)}, ${h.guest.vcpus} vCPUs`;
  if (doc.runs.length === 1) return `${doc.mode === 'runs' ? 'One run trace' : 'One run, simulated now'} (${h.workload.name}, seed ${h.workload.seed}, ${guest}): the migration${doc.mode === 'runs' ? ' as recorded, with the summary from the trace\'s footer' : ''}.`;
  const differ = differingFacets(doc.runs);
  const what = differ.length ? `Runs differing in ${differ.join(', ')}` : doc.runs.length > 1 ? 'The same run, repeated' : 'One run';
  const shared = differ.includes('workload') || differ.includes('seed') || differ.includes('guest') ? '' : ` on the same guest events (${h.workload.name}, seed ${h.workload.seed}, ${guest})`;
  if (doc.mode === 'compare') return `${what}${shared}, simulated now.`;
  return `${what}${shared}: ${doc.runs.length} run trace${doc.runs.length === 1 ? '' : 's'}, each migration as recorded, with the summary from the trace's footer.`;
}

function windowNote(doc: ReportDocument): string {
  const [w0, w1] = windowDomainS(doc.runs);
  const span = `${w0.toFixed(3)} s to ${w1.toFixed(3)} s of wall time`;
  if (doc.window.kind === 'migration') return `The timelines draw the migration window (${span}): from the log-dirty enable to the resume (post-copy: the last page; Remus: the last epoch), with a twentieth of its length before and after; --window all draws the whole run.`;
  if (doc.window.kind === 'all') return `The timelines draw the whole run (${span}).`;
  return `The timelines draw the window asked for (${span}).`;
}

function headerTable(runs: readonly RunReport[]): string {
  const rows: [string, (r: RunReport) => string][] = [
    ['run', (r) => r.label],
    ...(runs.some((r) => r.file) ? ([['run trace', (r: RunReport) => r.file ?? '(simulated)']] as [string, (r: RunReport) => string][]) : []),
    ['workload', (r) => r.header.workload.name],
    ['parameters', (r) => Object.entries(r.header.workload.params).map(([k, v]) => `${k}=${v}`).join(', ') || '(none)'],
    ['seed', (r) => String(r.header.workload.seed)],
    ['guest', (r) => `${r.header.guest.type} ${r.header.guest.paging}, ${formatBytes(r.header.guest.memPages * 4096)}, ${r.header.guest.vcpus} vCPUs`],
    ['guest time', (r) => formatDurationNs(r.header.workload.durationNs)],
    ['tracker', (r) => `${r.spec.tracker} (superpages ${r.spec.superpages}, p2m ${r.spec.p2m})`],
    ['policy', (r) => policyText(r)],
    ['cost model', (r) => (hasCustomCosts(r.spec) ? `custom: ${JSON.stringify(r.spec.costs)}` : 'defaults of this version')],
    ['program', (r) => `${r.header.program.name} ${r.header.program.version}`],
  ];
  return table(runs, rows.map(([name, f]) => [name, runs.map(f)]));
}

function policyText(r: RunReport): string {
  const m = r.spec.migration;
  const parts = [`${m.policy}`, `link ${formatCount((m.bandwidthBytesPerSec * 8) / 1e6)} Mbit/s`, `start at ${formatDurationNs(m.startNs)}`];
  if (m.policy === 'qemu') parts.push(`max-bandwidth ${formatBytes(m.maxBandwidthBytesPerSec)}/s`, `downtime-limit ${formatDurationNs(m.downtimeLimitNs)}`, m.autoConverge ? 'auto-converge' : 'no auto-converge');
  if (m.maxIters !== undefined) parts.push(`max-iters ${m.maxIters}`);
  if (m.policy === 'xen-legacy') parts.push(`max-factor ${m.maxFactor}`);
  if (m.policy === 'remus') parts.push(`epoch ${formatDurationNs(m.epochNs)}`);
  if (m.policy === 'postcopy') parts.push(`switch after ${m.postcopyAfterPasses} pass(es)`);
  return parts.join(', ');
}

function summaryTable(runs: readonly RunReport[]): string {
  // A row with values is ranked (lower is better); one without is only shown.
  type Row = [string, string[], number[]?];
  const num = (name: string, f: (r: RunReport) => number, show: (v: number) => string, lowerIsBetter = true): Row => {
    const values = runs.map(f);
    return lowerIsBetter ? [name, values.map(show), values] : [name, values.map(show)];
  };
  const s = (r: RunReport) => r.summary;
  const completed = runs.map((r) => s(r).outcome === 'completed');
  const headerBytes = (r: RunReport) => Number(r.spec.costs['pageHeaderBytes'] ?? DEFAULT_COSTS.pageHeaderBytes);
  const anyPolicy = (p: string) => runs.some((r) => s(r).policy === p);
  const pagesAndBytes = (pages: number, bytes: number) => `${formatCount(pages)} (${formatBytes(bytes)})`;
  const sumExits = (e: Readonly<Record<string, { count: number }>>) => Object.values(e).reduce((a, x) => a + x.count, 0);
  const rows: Row[] = [
    ['outcome', runs.map((r) => s(r).outcome)],
    ['stop rule', runs.map((r) => s(r).stopReason)],
    num('downtime', (r) => s(r).downtimeNs, formatDurationNs),
    num('total time', (r) => s(r).totalNs, formatDurationNs),
    num('setup', (r) => s(r).setupNs, formatDurationNs),
    num('rounds', (r) => s(r).rounds.length, formatCount, false),
    num('pages sent', (r) => s(r).pagesSent, formatCount),
    num('bytes sent', (r) => s(r).bytesSent, formatBytes),
    ['normal pages (contents)', runs.map((r) => pagesAndBytes(s(r).normalPages, s(r).normalBytes))],
    ['zero pages (headers)', runs.map((r) => pagesAndBytes(s(r).zeroPagesSent, s(r).zeroPagesSent * zeroPageWireBytes(s(r).dataPath, headerBytes(r))))],
    ['bytes pre-copy', runs.map((r) => formatBytes(s(r).precopyBytes))],
    ['bytes in downtime (stop-and-copy)', runs.map((r) => formatBytes(s(r).downtimeBytes))],
    ...(anyPolicy('postcopy') ? [['bytes post-copy', runs.map((r) => (s(r).postcopyBytes === undefined ? '-' : formatBytes(s(r).postcopyBytes!)))] as Row] : []),
    ...(anyPolicy('remus') ? [['bytes in checkpoints', runs.map((r) => (s(r).checkpointBytes === undefined ? '-' : formatBytes(s(r).checkpointBytes!)))] as Row] : []),
    num('final pages', (r) => s(r).rounds[s(r).rounds.length - 1]?.pagesSent ?? 0, formatCount),
    ['throughput', runs.map((r) => `${(s(r).throughputBitsPerSec / 1e6).toFixed(1)} Mbit/s, ${formatCount(s(r).pagesPerSec)} pages/s`)],
    num('dirty rate (live phase, pages/s)', (r) => s(r).dirtyPagesRate, formatCount, false),
    num('dirty-sync-count', (r) => s(r).dirtySyncCount, formatCount, false),
    num('guest slowdown (live phase)', (r) => s(r).migrationSlowdown, (v) => `${(v * 100).toFixed(2)}%`),
    num('guest slowdown (whole run)', (r) => s(r).slowdown, (v) => `${(v * 100).toFixed(2)}%`),
    num('vCPU stall (live phase)', (r) => s(r).migrationStallNs, formatDurationNs),
    num('vCPU stall (whole run)', (r) => s(r).stallNs, formatDurationNs),
    num('exits and faults (live phase)', (r) => sumExits(s(r).migrationExits), formatCount),
    num('exits and faults (whole run)', (r) => sumExits(s(r).exits), formatCount),
  ];
  const kinds = [...new Set(runs.flatMap((r) => Object.keys(s(r).exits)))];
  for (const k of kinds) rows.push([`  ${k}`, runs.map((r) => { const e = s(r).exits[k]; return e ? `${formatCount(e.count)} (${formatDurationNs(e.costNs)})` : '-'; })]);
  if (anyPolicy('postcopy')) {
    rows.push(num('post-copy faults', (r) => s(r).postcopyFaults, formatCount));
    rows.push(num('post-copy fault wait', (r) => s(r).postcopyFaultStallNs, formatDurationNs));
    rows.push(num('post-copy blocktime (all vCPUs at once)', (r) => s(r).postcopyBlocktimeNs ?? 0, formatDurationNs));
  }
  rows.push(num('tracker memory', (r) => s(r).trackerMemoryBytes, formatBytes));
  rows.push(num('lost pages', (r) => s(r).lostPages + s(r).lostPtes, formatCount));
  rows.push(['state digest', runs.map((r) => s(r).stateDigest.slice(0, 16) + '…')]);
  return table(
    runs,
    rows.map(([name, cells, values]) => {
      if (!values) return [name, cells];
      const best = bestOf(values, completed);
      return [name, cells.map((c, i) => (i === best ? `${c} *` : c))];
    }),
  );
}

/**
 * Each run's rounds: pages and bytes sent, what remained dirty at the
 * round's end (the CLEAN ending it; QEMU's remaining) and what stopping
 * then would have cost on the link (QEMU's expected-downtime). Past 40
 * rounds, the first and last 20.
 */
function roundsTables(runs: readonly RunReport[]): string {
  return runs
    .map((r) => {
      const all = r.summary.rounds;
      const shown = all.length > 40 ? [...all.slice(0, 20), undefined, ...all.slice(-20)] : all;
      const head = ['round', 'start', 'end', 'pages sent', 'zero', 'bytes', 'remaining (pages)', 'expected downtime'];
      const body = shown.map((x) =>
        x
          ? [String(x.round), formatDurationNs(x.startNs), formatDurationNs(x.endNs), formatCount(x.pagesSent), formatCount(x.zeroPages), formatBytes(x.bytesSent), x.dirtyPages < 0 ? '-' : formatCount(x.dirtyPages), x.dirtyPages < 0 ? '-' : formatDurationNs(x.expectedDowntimeNs)]
          : ['…', '', '', '', '', '', '', ''],
      );
      const rows = body.map((cells) => `<tr>${cells.map((c) => `<td>${esc(c)}</td>`).join('')}</tr>`).join('\n');
      return `<h3>${esc(r.label)}</h3>\n<table>\n<thead><tr>${head.map((h) => `<th>${esc(h)}</th>`).join('')}</tr></thead>\n<tbody>\n${rows}\n</tbody>\n</table>`;
    })
    .join('\n');
}

function table(runs: readonly RunReport[], rows: readonly (readonly [string, readonly string[]])[]): string {
  const differ = differingFacets(runs);
  const corner = differ.length ? `by ${differ.join(', ')}` : '';
  const head = `<tr><th>${esc(corner)}</th>${runs.map((r) => `<th>${esc(r.label)}</th>`).join('')}</tr>`;
  const body = rows.map(([name, cells]) => `<tr><th scope="row">${esc(name)}</th>${cells.map((c) => `<td>${esc(c)}</td>`).join('')}</tr>`).join('\n');
  return `<table>\n<thead>${head}</thead>\n<tbody>\n${body}\n</tbody>\n</table>`;
}


const STYLE = `
body { font: 14px/1.45 Helvetica, Arial, sans-serif; color: #222; max-width: 980px; margin: 24px auto; padding: 0 16px; }
h1 { font-size: 22px; margin: 0 0 4px; }
h3 { font-size: 14px; margin: 14px 0 4px; }
h2 { font-size: 17px; margin: 28px 0 8px; border-bottom: 1px solid #ddd; padding-bottom: 4px; }
.lede { color: #444; margin: 0; }
table { border-collapse: collapse; font-size: 13px; margin: 4px 0; }
th, td { border: 1px solid #ddd; padding: 3px 8px; text-align: left; vertical-align: top; }
td { font-variant-numeric: tabular-nums; }
thead th { background: #f4f4f4; }
tbody th { font-weight: normal; color: #444; white-space: pre; }
pre { background: #f6f6f6; border: 1px solid #e2e2e2; padding: 8px; white-space: pre-wrap; overflow-wrap: anywhere; font-size: 12px; }
figure { margin: 20px 0; }
figure svg { max-width: 100%; height: auto; }
figcaption { color: #555; font-size: 12px; margin-top: 4px; }
.note { color: #666; font-size: 12px; }
footer { color: #888; font-size: 12px; margin-top: 32px; }
`;
