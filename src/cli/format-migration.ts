import type { ExitTally } from '../reducers/summary.js';
import type { GuestSource } from '../api/guest-source.js';
import type { MigrationSummary } from '../api/run-migration.js';
import { formatBytes, formatCount, formatDurationNs } from '../model/units.js';
import { fmtPercent } from './format-number.js';

/** The stable JSON form of a migration summary: add fields, never rename. */
export function migrationJson(source: GuestSource, s: MigrationSummary): Record<string, unknown> {
  const h = source.header;
  return {
    source: source.label,
    workload: h.workload,
    guest: h.guest,
    program: h.program,
    ...s,
  };
}

export function migrationText(source: GuestSource, s: MigrationSummary): string {
  const h = source.header;
  const d = s.downtime;
  const lines = [
    `${source.label} (${h.guest.type} ${h.guest.paging}, ${formatBytes(h.guest.memPages * 4096)}, ${h.guest.vcpus} vCPUs, seed ${h.workload.seed}): ${s.policy} migration under ${s.tracker}`,
    `  outcome      ${s.outcome}: ${s.stopReason}`,
    `  total time   ${formatDurationNs(s.totalNs)} (setup ${formatDurationNs(s.setupNs)})`,
    `  downtime     ${formatDurationNs(s.downtimeNs)} = suspend ${formatDurationNs(d.suspendNs)} + final clean ${formatDurationNs(d.finalCleanNs)} + final pages ${formatDurationNs(d.finalPagesNs)} + canonicalise ${formatDurationNs(d.canonicaliseNs)} + state ${formatDurationNs(d.stateNs)} + resume ${formatDurationNs(d.resumeNs)}`,
    `  transferred  ${formatCount(s.pagesSent)} pages (${formatCount(s.zeroPagesSent)} zero), ${formatBytes(s.bytesSent)}`,
    `  dirty rate   ${formatCount(s.dirtyPagesRate)} pages/s during the live phase${s.policy === 'qemu' ? `; dirty-sync-count ${s.dirtySyncCount}` : ''}`,
    `  guest        ${formatCount(s.guestEvents)} events, slowdown ${fmtPercent(s.slowdown)}, stall ${formatDurationNs(s.stallNs)}${s.throttlePct ? `, throttled to ${s.throttlePct}%` : ''}`,
    `  tracker      ${formatBytes(s.trackerMemoryBytes)}${Object.entries(s.trackerStats).map(([k, v]) => `, ${k} ${formatCount(v)}`).join('')}`,
    '  exits and operations:',
  ];
  lines.push(...exitLines(s.exits));
  if (s.postcopyFaults) lines.push(`  post-copy    ${formatCount(s.postcopyFaults)} faults, ${formatDurationNs(s.postcopyFaultStallNs)} waiting for pages`);
  if (s.epochs.length) {
    const pauses = s.epochs.map((e) => e.pauseNs);
    lines.push(`  remus        ${s.epochs.length} checkpoints, pause ${formatDurationNs(Math.min(...pauses))} to ${formatDurationNs(Math.max(...pauses))}, ${formatCount(s.epochs.reduce((a, e) => a + e.dirtyPages, 0))} pages`);
  }
  lines.push('  rounds:       start          end        sent     zero  skipped     dirty at end');
  for (const r of elideRounds(s.rounds)) {
    if (!r) {
      lines.push('    ...');
      continue;
    }
    lines.push(
      `    ${String(r.round).padStart(4)}  ${formatDurationNs(r.startNs).padStart(12)} ${formatDurationNs(r.endNs).padStart(12)} ${formatCount(r.pagesSent).padStart(10)} ${formatCount(r.zeroPages).padStart(8)} ${formatCount(r.pagesSkipped).padStart(8)} ${r.dirtyPages < 0 ? '           -' : formatCount(r.dirtyPages).padStart(12)}`,
    );
  }
  const lost = s.lostPages + s.lostPtes;
  lines.push(lost ? `  LOST ${formatCount(s.lostPages)} pages and ${formatCount(s.lostPtes)} page-table entries (first pfns ${s.firstLostPfns.join(', ')}): the destination is not the source` : '  lost pages   0 (the oracle checked every page at resume)');
  return lines.join('\n') + '\n';
}

/** One line per exit kind: its count and the vCPU time it cost. */
export function exitLines(exits: Readonly<Record<string, ExitTally>>): string[] {
  return Object.entries(exits).map(([k, v]) => `    ${k.padEnd(16)} ${formatCount(v.count).padStart(12)}  ${formatDurationNs(v.costNs).padStart(12)}`);
}

/** The rounds a text summary lists: all of them, or past 40 the first and last 20 with `undefined` where the rest are left out. */
export function elideRounds<T>(rounds: readonly T[]): readonly (T | undefined)[] {
  return rounds.length > 40 ? [...rounds.slice(0, 20), undefined, ...rounds.slice(-20)] : rounds;
}
