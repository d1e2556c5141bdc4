import type { ExitTally } from '../reducers/summary.js';
import type { GuestSource } from '../api/guest-source.js';
import type { MigrationSummary } from '../api/run-migration.js';
import { DEFAULT_COSTS } from '../model/cost-model.js';
import { defaultShadowPoolPages, p2mTablePages } from '../model/shadow-pool-size.js';
import { zeroPageWireBytes } from '../reducers/migration/qemu-data-path.js';
import { durationFormatterFor, formatBytes, formatCount, formatDurationNs } from '../model/units.js';
import { fmtMbitPerSec, fmtPercent } from './format-number.js';
import { blockTable, type Column, pairsTable } from './text-table.js';

const PAGE_BYTES = 4096;

/**
 * The stable JSON form of a migration summary: add fields, never rename.
 * Besides the summary's own fields it gives, derived from them, what QEMU's
 * query-migrate shows and the summary keeps only implicitly: `zeroBytes`
 * (the zero pages' bytes on the wire, their headers) and, per round,
 * `remainingBytes` (the dirty pages left at the round's end times 4 KiB:
 * QEMU's ram `remaining`).
 */
export function migrationJson(source: GuestSource, s: MigrationSummary, pageHeaderBytes = DEFAULT_COSTS.pageHeaderBytes): Record<string, unknown> {
  const h = source.header;
  return {
    source: source.label,
    workload: h.workload,
    guest: h.guest,
    program: h.program,
    ...s,
    rounds: s.rounds.map((r) => ({ ...r, remainingBytes: Math.max(0, r.dirtyPages) * PAGE_BYTES })),
    zeroBytes: zeroBytes(s, pageHeaderBytes),
    ...shadowPoolJson(source, s),
  };
}

/**
 * A shadow run's pool: its pages (also trackerStats.shadowPoolPages), libxl's
 * default for this guest, and whether the cost model set it instead
 * (src/model/shadow-pool-size.ts).
 */
function shadowPool(source: GuestSource, s: MigrationSummary): { pages: number; libxlDefaultPages: number; p2mPages: number; fromCostModel: boolean } | undefined {
  const pages = s.trackerStats['shadowPoolPages'];
  if (s.tracker !== 'shadow' || pages === undefined) return undefined;
  const g = source.header.guest;
  const libxlDefaultPages = defaultShadowPoolPages(g, s.p2m);
  const p2mPages = g.type === 'pv' ? 0 : p2mTablePages(g.memPages, s.p2m);
  return { pages, libxlDefaultPages, p2mPages, fromCostModel: pages !== libxlDefaultPages };
}

function shadowPoolJson(source: GuestSource, s: MigrationSummary): { shadowPool?: ReturnType<typeof shadowPool> } {
  const pool = shadowPool(source, s);
  return pool ? { shadowPool: pool } : {};
}

function shadowPoolLine(source: GuestSource, s: MigrationSummary): string[] {
  const pool = shadowPool(source, s);
  if (!pool) return [];
  const g = source.header.guest;
  const pages = `${formatCount(pool.pages)} pages (${formatBytes(pool.pages * PAGE_BYTES)})`;
  const p2m = pool.p2mPages ? `, less the P2M's ${formatCount(pool.p2mPages)} table pages` : '';
  const why = pool.fromCostModel
    ? `set by the cost model's shadowPoolPages (libxl's default here: ${formatCount(pool.libxlDefaultPages)})`
    : `libxl's default paging pool for ${formatBytes(g.memPages * PAGE_BYTES)} and ${g.vcpus} vCPUs${p2m}`;
  return [`  shadow pool  ${pages}: ${why}`];
}

/** What the guest did once its events ended before the migration (`--after-end`), or '' when they outlasted it. */
function afterEndText(s: MigrationSummary): string {
  if (s.afterEnd === 'loop' && s.afterEndLoops > 0) return `the guest's events ran ${s.afterEndLoops} more time(s), each shifted by their span (--after-end loop); the migration ran ${formatDurationNs(s.afterEndNs)} past their first end`;
  if (s.afterEnd === 'idle' && s.afterEndNs > 0) return `the guest ran on idle for ${formatDurationNs(s.afterEndNs)} after its events (--after-end idle)`;
  if (s.afterEnd === 'stop' && s.outcome === 'incomplete') return 'the run ended with the guest\'s events (--after-end stop)';
  return '';
}

/** Zero pages go on the wire as their header and fill, or a multifd offset (zeroPageWireBytes); under Xen's policies none are counted zero. */
function zeroBytes(s: MigrationSummary, pageHeaderBytes: number): number {
  return s.zeroPagesSent * zeroPageWireBytes(s.dataPath, pageHeaderBytes);
}

/**
 * A migration summary as text: what happened, the figures (each naming its
 * phase where it has one: the live phase runs from the start to the
 * suspend, or for post-copy to the last page; the whole run is every guest
 * event), then the tables: exits by phase, the tracker's counts, rounds.
 */
export function migrationText(source: GuestSource, s: MigrationSummary, pageHeaderBytes = DEFAULT_COSTS.pageHeaderBytes): string {
  const h = source.header;
  const lines = [
    `${source.label} (${h.guest.type} ${h.guest.paging}, ${formatBytes(h.guest.memPages * 4096)}, ${h.guest.vcpus} vCPUs, seed ${h.workload.seed}): ${s.policy} migration under ${s.tracker}`,
    `  outcome      ${s.outcome}: ${s.stopReason}`,
  ];
  const afterEnd = afterEndText(s);
  if (afterEnd) lines.push(`  after end    ${afterEnd}`);
  const incomplete = s.outcome === 'incomplete';
  if (incomplete) {
    lines.push(
      `  progress     ${s.rounds.length} round(s) done, ${formatCount(s.pagesSent)} pages sent (${formatBytes(s.bytesSent)}) over ${formatDurationNs(s.totalNs)}; ${formatCount(s.remainingPages ?? 0)} pages still to send when the guest's events ended`,
      '  no downtime and no oracle check: the guest never stopped on the source nor resumed on the destination',
    );
  } else {
    const d = s.downtime;
    const dt = durationFormatterFor(s.downtimeNs);
    lines.push(
      `  total time   ${formatDurationNs(s.totalNs)} (setup ${formatDurationNs(s.setupNs)})`,
      `  downtime     ${dt(s.downtimeNs)} = suspend ${dt(d.suspendNs)} + final clean ${dt(d.finalCleanNs)} + final pages ${dt(d.finalPagesNs)} + canonicalise ${dt(d.canonicaliseNs)} + state ${dt(d.stateNs)}${d.deviceStateNs !== undefined ? ` (device ${dt(d.deviceStateNs)})` : ''}${d.deviceLoadNs !== undefined ? ` + device load ${dt(d.deviceLoadNs)}` : ''} + resume ${dt(d.resumeNs)}`,
    );
  }
  const phases = [`pre-copy ${formatBytes(s.precopyBytes)}`];
  if (!incomplete) phases.push(`stop-and-copy ${formatBytes(s.downtimeBytes)}`);
  if (s.postcopyBytes !== undefined) phases.push(`post-copy ${formatBytes(s.postcopyBytes)}`);
  if (s.checkpointBytes !== undefined) phases.push(`checkpoints ${formatBytes(s.checkpointBytes)}`);
  lines.push(
    `  transferred  ${formatCount(s.pagesSent)} pages, ${formatBytes(s.bytesSent)}: ${formatCount(s.normalPages)} normal (${formatBytes(s.normalBytes)} of contents), ${formatCount(s.zeroPagesSent)} zero (${formatBytes(zeroBytes(s, pageHeaderBytes))} of headers)`,
    ...dataPathLines(s),
    `  by phase     ${phases.join(', ')}`,
    `  throughput   ${fmtMbitPerSec(s.throughputBitsPerSec)}, ${formatCount(s.pagesPerSec)} pages/s (over the total time)`,
    `  dirty rate   ${liveDirtyRate(s)}; dirty-sync-count ${s.dirtySyncCount}${s.dirtySyncNs ? ` (${formatDurationNs(s.dirtySyncNs)} in syncs)` : ''}`,
    `  guest        ${formatCount(s.guestEvents)} events; slowdown ${fmtPercent(s.migrationSlowdown)} (live phase), ${fmtPercent(s.slowdown)} (whole run)${s.throttlePct ? `; throttled to ${s.throttlePct}%` : ''}`,
    `  vCPU stall   ${formatDurationNs(s.migrationStallNs)} (live phase), ${formatDurationNs(s.stallNs)} (whole run), all vCPUs`,
  );
  if (s.vcpuSlowdown) lines.push(`  per vCPU     slowdown in the live phase (exits, pauses, throttle or dirty-limit sleeps): ${s.vcpuSlowdown.map((x, v) => `vCPU ${v} ${fmtPercent(x)}`).join(', ')}`);
  if (s.policy === 'postcopy' || s.postcopyBlocktimeNs !== undefined) {
    const mean = s.postcopyFaults > 0 ? ` (mean ${formatDurationNs(Math.round(s.postcopyFaultStallNs / s.postcopyFaults))})` : '';
    lines.push(`  post-copy    ${formatCount(s.postcopyFaults)} faults on pages not yet received, ${formatDurationNs(s.postcopyFaultStallNs)} waiting for them${mean}${s.postcopyRequests !== undefined ? `; ${formatCount(s.postcopyRequests)} page requests` : ''}`);
  }
  if (s.postcopyBlocktimeNs !== undefined && s.postcopyVcpuBlocktimeNs) {
    lines.push(`  blocktime    ${formatDurationNs(s.postcopyBlocktimeNs)} with every vCPU blocked at once (postcopy-blocktime); per vCPU: ${s.postcopyVcpuBlocktimeNs.map((x, v) => `vCPU ${v} ${formatDurationNs(x)}`).join(', ')}`);
  }
  if (s.epochs.length) {
    const pauses = s.epochs.map((e) => e.pauseNs);
    lines.push(`  remus        ${s.epochs.length} checkpoints, pause ${formatDurationNs(Math.min(...pauses))} to ${formatDurationNs(Math.max(...pauses))}, ${formatCount(s.epochs.reduce((a, e) => a + e.dirtyPages, 0))} pages`);
  }
  lines.push(`  tracker      ${formatBytes(s.trackerMemoryBytes)} of hypervisor memory at most`);
  lines.push(...shadowPoolLine(source, s));
  lines.push(...statLines(s.trackerStats));
  lines.push('  exits and operations:');
  lines.push(...phaseExitTable(s.migrationExits, s.exits));
  if (s.rounds.length) {
    lines.push('  rounds (remaining: dirty pages the CLEAN ending the round reported; expected downtime: those at link speed):');
    lines.push(...migrationRoundTable(s));
  }
  const lost = s.lostPages + s.lostPtes;
  if (lost) lines.push(`  LOST ${formatCount(s.lostPages)} pages and ${formatCount(s.lostPtes)} page-table entries (first pfns ${s.firstLostPfns.join(', ')}): the destination is not the source`);
  else if (s.outcome === 'completed') lines.push('  lost pages   0 (the oracle checked every page at resume)');
  return lines.join('\n') + '\n';
}

/** QEMU's data path: the page contents, and multifd's and XBZRLE's figures when they ran. */
function dataPathLines(s: MigrationSummary): string[] {
  const d = s.dataPath;
  if (!d) return [];
  const c = d.pageContents;
  const pct = (x: number) => `${Math.round(x * 1000) / 10}%`;
  const lines = [`  contents     zero ${pct(c.zero)}, compressible ${pct(c.compressible)} at ${c.ratio}x, incompressible ${pct(c.incompressible)} of written pages (${c.why})${d.zeroPageDetection ? `; zero-page detection ${d.zeroPageDetection}` : ''}`];
  const m = d.multifd;
  if (m) {
    const codec = m.compression === 'none' ? 'no compression' : `${m.compression} level ${m.level}`;
    const ratio = m.dataBytesOut > 0 ? ` (${(m.dataBytesIn / m.dataBytesOut).toFixed(2)}x)` : '';
    lines.push(
      `  multifd      ${m.channels} channels, ${codec}, ${m.hostCores} host cores: ${formatCount(m.packets)} packets, ${formatCount(m.normalPages)} pages of data ${formatBytes(m.dataBytesIn)} -> ${formatBytes(m.dataBytesOut)}${ratio}`,
      `               CPU ${formatDurationNs(m.migrationThreadNs)} on the migration thread, ${formatDurationNs(m.channelThreadsNs)} on the channels; ${formatDurationNs(m.cpuBoundNs)} of sending waited for the CPU, not the link`,
    );
  }
  const t = d.migrationThread;
  if (t) lines.push(`  thread       the migration thread alone: CPU ${formatDurationNs(t.busyNs)} sending pages; ${formatDurationNs(t.cpuBoundNs)} of sending waited for it, not the link`);
  const x = d.xbzrle;
  if (x) {
    lines.push(
      `  xbzrle       ${formatBytes(x.cacheBytes)} cache: ${formatCount(x.cacheHits)} hits (${formatCount(x.pages)} deltas, ${formatCount(x.overflows)} overflows, ${formatCount(x.unchanged)} unchanged), ${formatCount(x.cacheMisses)} misses; ${formatBytes(x.bytes)} of deltas, ${formatBytes(x.bytesSaved)} saved${x.pages ? ` (encoding rate ${x.encodingRate.toFixed(1)})` : ''}; CPU ${formatDurationNs(x.threadNs ?? 0)} of the migration thread's`,
    );
  }
  return lines;
}

/** The live phase's dirty rate, or why there is none to give. */
function liveDirtyRate(s: MigrationSummary): string {
  if (s.policy === 'checkpoint') return 'none: a checkpoint pauses the guest for the whole save (no live phase)';
  if (s.dirtyPagesRate === 0 && !s.rounds.some((r) => r.dirtyPages >= 0)) return 'none measured: no CLEAN ended a round';
  return `${formatCount(s.dirtyPagesRate)} pages/s during the live phase`;
}

/** A migration's rounds: times in one unit per column, pages, what remained and what stopping then would have cost. */
function migrationRoundTable(s: MigrationSummary): string[] {
  const at = durationFormatterFor(Math.max(0, ...s.rounds.map((r) => r.endNs)));
  const expected = durationFormatterFor(Math.max(0, ...s.rounds.map((r) => r.expectedDowntimeNs)));
  const columns: Column[] = [
    { head: 'round', align: 'right' },
    { head: 'start', align: 'right' },
    { head: 'end', align: 'right' },
    { head: 'sent', align: 'right' },
    { head: 'zero', align: 'right' },
    ...(s.policy === 'xen-legacy' ? [{ head: 'skipped', align: 'right' } as const] : []),
    { head: 'bytes', align: 'right' },
    { head: 'remaining', align: 'right' },
    { head: 'expected downtime', align: 'right' },
  ];
  const rows = elideRounds(s.rounds).map((r) => {
    if (!r) return columns.map((_c, i) => (i === 0 ? '...' : ''));
    const none = r.dirtyPages < 0;
    return [
      String(r.round),
      at(r.startNs),
      at(r.endNs),
      formatCount(r.pagesSent),
      formatCount(r.zeroPages),
      ...(s.policy === 'xen-legacy' ? [formatCount(r.pagesSkipped)] : []),
      formatBytes(r.bytesSent),
      none ? '-' : formatCount(r.dirtyPages),
      none ? '-' : expected(r.expectedDowntimeNs),
    ];
  });
  return blockTable(columns, rows);
}

/** A tracker's own counts as a block of aligned name-value pairs, instead of one line of hundreds of characters. */
export function statLines(stats: Readonly<Record<string, number>>): string[] {
  return pairsTable(Object.entries(stats).map(([k, v]) => [k, formatCount(v)]));
}

/** One row per exit kind: its count and the vCPU time it cost, over the whole run. */
export function exitLines(exits: Readonly<Record<string, ExitTally>>): string[] {
  const columns: Column[] = [{ head: 'kind' }, { head: 'count', align: 'right' }, { head: 'vCPU time', align: 'right' }];
  return blockTable(
    columns,
    Object.entries(exits).map(([k, v]) => [k, formatCount(v.count), formatDurationNs(v.costNs)]),
  );
}

/** One row per exit kind: count and vCPU time in the live phase, and over the whole run beside them. */
function phaseExitTable(live: Readonly<Record<string, ExitTally>>, whole: Readonly<Record<string, ExitTally>>): string[] {
  const columns: Column[] = [
    { head: 'kind' },
    { head: 'live phase', align: 'right' },
    { head: 'vCPU time', align: 'right' },
    { head: 'whole run', align: 'right' },
    { head: 'vCPU time', align: 'right' },
  ];
  const rows = Object.entries(whole).map(([k, v]) => {
    const l = live[k];
    return [k, formatCount(l?.count ?? 0), formatDurationNs(l?.costNs ?? 0), formatCount(v.count), formatDurationNs(v.costNs)];
  });
  return blockTable(columns, rows);
}

/** The rounds a text summary lists: all of them, or past 40 the first and last 20 with `undefined` where the rest are left out. */
export function elideRounds<T>(rounds: readonly T[]): readonly (T | undefined)[] {
  return rounds.length > 40 ? [...rounds.slice(0, 20), undefined, ...rounds.slice(-20)] : rounds;
}
