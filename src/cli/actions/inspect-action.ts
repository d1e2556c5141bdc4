import { inspect, type InspectReport } from '../../api/inspect.js';
import { formatBytes, formatCount, formatDurationNs } from '../../model/units.js';
import type { CliContext } from '../cli-io.js';
import { inputFile } from '../input-file.js';
import { fmtFixed, fmtPercent } from '../format-number.js';
import { blockTable, loadTextTables } from '../text-table.js';
import { createShareProgress, withProgress } from '../progress.js';
import type { CaptureStats } from '../../import/capture-stats.js';
import type { MmuStats } from '../../reducers/mmu-output.js';

/** `migsim inspect FILE`: loaded when the command runs (src/cli/main.ts loads no command's work up front). */
export async function inspectAction(ctx: CliContext, file: string, opts: { json?: boolean; mmu?: boolean }): Promise<void> {
  if (!opts.json) await loadTextTables();
  const progress = createShareProgress(ctx, 'inspect', opts.json);
  const report = withProgress(progress, () => inspect(inputFile(file), progress.update, { mmu: opts.mmu === true }));
  ctx.io.out(opts.json ? JSON.stringify(inspectJson(report), null, 2) + '\n' : inspectText(report));
}

/** The stable JSON form: add fields, never rename. */
function inspectJson(r: InspectReport): Record<string, unknown> {
  return {
    file: r.file,
    fileBytes: r.fileBytes,
    format: { name: r.header.format, version: r.header.version, encoding: r.header.encoding },
    program: r.header.program,
    traceKind: r.header.traceKind,
    guest: r.header.guest,
    workload: r.header.workload,
    ...(r.header.source ? { source: r.header.source } : {}),
    ...(r.header.run ? { run: r.header.run } : {}),
    chunks: r.footer.chunks,
    guestEvents: r.guestEvents,
    runEvents: r.runEvents,
    guestEventsByKind: r.guestEventsByKind,
    runEventsByKind: r.runEventsByKind,
    firstNs: r.firstNs,
    lastNs: r.lastNs,
    spanNs: r.spanNs,
    distinctPages: r.distinctPages,
    bytesPerEvent: r.bytesPerEvent,
    digest: r.footer.digest,
    workloadStats: r.footer.workloadStats,
    ...(r.mmu ? { mmu: r.mmu } : {}),
    ...(r.capture ? { capture: r.capture } : {}),
  };
}

function inspectText(r: InspectReport): string {
  const h = r.header;
  const w = h.workload;
  const params = Object.entries(w.params)
    .map(([k, v]) => `${k}=${v}`)
    .join(' ');
  const lines = [
    `${r.file}: migsim ${h.traceKind} trace, format v${h.version} (${h.encoding}), written by ${h.program.name} ${h.program.version}`,
    `  workload   ${w.name} seed ${w.seed}, ${formatDurationNs(w.durationNs)}${params ? `, ${params}` : ''}`,
    `  guest      ${h.guest.type} ${h.guest.paging}, ${formatBytes(h.guest.memPages * 4096)} (${formatCount(h.guest.memPages)} pages), ${h.guest.vcpus} vCPUs`,
    `  events     ${formatCount(r.guestEvents)} guest${r.runEvents ? `, ${formatCount(r.runEvents)} run` : ''} in ${formatCount(r.footer.chunks)} chunks`,
  ];
  const byKind = [...Object.entries(r.guestEventsByKind).map(([k, n]) => [k, 'guest', formatCount(n)]), ...Object.entries(r.runEventsByKind).map(([k, n]) => [k, 'run', formatCount(n)])];
  lines.push(...blockTable([{ head: '' }, { head: '' }, { head: '', align: 'right' }], byKind));
  lines.push(
    `  time       ${formatDurationNs(r.firstNs)} to ${formatDurationNs(r.lastNs)} (span ${formatDurationNs(r.spanNs)})`,
    `  pages      ${formatCount(r.distinctPages.physWritten)} pfns written directly, ${formatCount(r.distinctPages.virtualTouched)} vpns touched, ${formatCount(r.distinctPages.pageTablePages)} page-table pages written`,
    `  size       ${formatBytes(r.fileBytes)}, ${fmtFixed(r.bytesPerEvent, 2)} bytes/event`,
    `  digest     ${r.footer.digest}`,
  );
  const stats = Object.entries(r.footer.workloadStats);
  if (stats.length) lines.push(`  workload   ${stats.map(([k, v]) => `${k} ${formatCount(v)}`).join(', ')}`);
  if (r.mmu) lines.push(...mmuText(r.mmu, r.footer.workloadStats));
  if (r.capture) lines.push(...captureText(r.capture));
  return lines.join('\n') + '\n';
}

/** The capture section of an imported trace: its source, then its dirtying. */
function captureText(c: CaptureStats): string[] {
  const keys = Object.entries(c.captureHeader)
    .map(([k, v]) => `${k} ${String(v)}`)
    .join(' ');
  const t = c.trace;
  const interval = formatDurationNs(t.intervalNs);
  return [
    `  capture    ${c.format} ${c.file}, sha256 ${c.sha256}`,
    ...(keys ? [`             ${keys}`] : []),
    `             ${formatCount(c.processesCreated)} processes created, ${formatCount(c.processesExited)} exited; ` +
      (c.importer.intervals > 0
        ? `${formatCount(c.importer.intervals)} intervals, ${formatCount(c.importer.pagesWritten)} pages written, ${formatCount(c.importer.distinctPages)} distinct, ${fmtPercent(c.importer.overlap)} of an interval's pages dirty in the previous one (as captured)`
        : `${formatCount(c.importer.distinctPages)} distinct pages written (as captured)`),
    `  dirty      ${fmtFixed(t.dirtyPagesPerInterval.mean, 1)} pages per ${interval} interval (max ${formatCount(t.dirtyPagesPerInterval.max)}), ${formatCount(t.dirtyPagesPerSecond)} pages/s over ${formatCount(t.intervals)} intervals`,
    `             ${fmtPercent(t.overlap)} also dirty in the previous interval, ${formatCount(t.distinctPages)} distinct pages (in the trace)`,
    ...intervalLines(t.perInterval),
  ];
}

/** At most this many intervals are listed one per line; --json has them all. */
const MAX_INTERVAL_LINES = 20;

/** Each interval's dirty pages and its working set against the interval before (|A ∩ B| / |B|, Jaccard). */
function intervalLines(rows: CaptureStats['trace']['perInterval']): string[] {
  if (rows.length === 0) return [];
  const lines = ['  intervals  interval        start    dirty  also dirty before  jaccard'];
  for (const r of rows.slice(0, MAX_INTERVAL_LINES)) {
    const st = r.overlapWithPrevious === undefined ? `${'-'.padStart(17)}  ${'-'.padStart(7)}` : `${fmtPercent(r.overlapWithPrevious).padStart(17)}  ${fmtFixed(r.jaccardWithPrevious ?? 0, 3).padStart(7)}`;
    lines.push(`             ${String(r.interval).padStart(8)} ${formatDurationNs(r.startNs).padStart(12)} ${formatCount(r.dirtyPages).padStart(8)}  ${st}`);
  }
  if (rows.length > MAX_INTERVAL_LINES) lines.push(`             ... ${formatCount(rows.length - MAX_INTERVAL_LINES)} more intervals (inspect --json: capture.trace.perInterval)`);
  return lines;
}

/** The MMU's view at the end: page-table pages per level and leaf PTE bits (seed 000's figures). */
function mmuText(m: MmuStats, stats: Readonly<Record<string, number>>): string[] {
  const names = ['L1', 'L2', 'L3', 'L4'];
  const share = (n: number) => (m.leafSlots ? fmtPercent(n / m.leafSlots) : '-');
  // The slots are the L1 tables'; superpage leaves (a large guest's 2 MiB direct map) are counted apart.
  const l1 = m.levels[0]!;
  const superpages = m.presentLeafEntries - l1.presentLeafEntries;
  const lines = [
    `  mmu        page-table pages: ${m.levels.map((l, i) => `${formatCount(l.ptPages)} ${names[i]}`).join(', ')} (${formatCount(m.ptPages)} distinct)`,
    `             leaf PTE slots ${formatCount(m.leafSlots)}: present ${share(l1.presentLeafEntries)}, A ${share(l1.leafEntriesAccessed)}, D ${share(l1.leafEntriesDirty)}, RW ${share(l1.leafEntriesWritable)}, A+D+RW ${share(l1.leafEntriesAccessedDirtyWritable)}` +
      (superpages > 0 ? `; ${formatCount(superpages)} superpage leaves` : ''),
    `             ${formatCount(m.walks)} walks, ${formatCount(m.adStores)} A/D stores, ${formatCount(m.faults)} guest faults`,
  ];
  const created = stats['processesCreated'];
  const exited = stats['processesExited'];
  if (created !== undefined || exited !== undefined) lines.push(`             processes created ${formatCount(created ?? 0)}, exited ${formatCount(exited ?? 0)}`);
  return lines;
}
