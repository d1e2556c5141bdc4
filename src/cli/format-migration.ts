import type { ExitTally } from '../reducers/summary.js';
import type { GuestSource } from '../api/guest-source.js';
import type { MigrationSummary } from '../api/run-migration.js';
import { durationFormatterFor, formatBytes, formatCount, formatDurationNs } from '../model/units.js';
import { wrapLines } from '../util/wrap-lines.js';
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
  const lines = [
    `${source.label} (${h.guest.type} ${h.guest.paging}, ${formatBytes(h.guest.memPages * 4096)}, ${h.guest.vcpus} vCPUs, seed ${h.workload.seed}): ${s.policy} migration under ${s.tracker}`,
    `  outcome      ${s.outcome}: ${s.stopReason}`,
  ];
  if (s.outcome === 'incomplete') {
    lines.push(
      `  progress     ${s.rounds.length} round(s) done, ${formatCount(s.pagesSent)} pages sent (${formatBytes(s.bytesSent)}) over ${formatDurationNs(s.totalNs)}; ${formatCount(s.remainingPages ?? 0)} pages still to send when the guest's events ended`,
      '  no downtime and no oracle check: the guest never stopped on the source nor resumed on the destination',
    );
  } else {
    const d = s.downtime;
    const dt = durationFormatterFor(s.downtimeNs);
    lines.push(
      `  total time   ${formatDurationNs(s.totalNs)} (setup ${formatDurationNs(s.setupNs)})`,
      `  downtime     ${dt(s.downtimeNs)} = suspend ${dt(d.suspendNs)} + final clean ${dt(d.finalCleanNs)} + final pages ${dt(d.finalPagesNs)} + canonicalise ${dt(d.canonicaliseNs)} + state ${dt(d.stateNs)} + resume ${dt(d.resumeNs)}`,
    );
  }
  const phases = [`pre-copy ${formatBytes(s.precopyBytes)}`];
  if (s.outcome !== 'incomplete') phases.push(`stop-and-copy ${formatBytes(s.downtimeBytes)}`);
  if (s.postcopyBytes !== undefined) phases.push(`post-copy ${formatBytes(s.postcopyBytes)}`);
  if (s.checkpointBytes !== undefined) phases.push(`checkpoints ${formatBytes(s.checkpointBytes)}`);
  lines.push(
    `  transferred  ${formatCount(s.pagesSent)} pages (${formatCount(s.normalPages)} normal, ${formatCount(s.zeroPagesSent)} zero), ${formatBytes(s.bytesSent)}: ${phases.join(', ')}`,
    `  throughput   ${(s.throughputBitsPerSec / 1e6).toFixed(1)} Mbit/s, ${formatCount(s.pagesPerSec)} pages/s`,
    `  dirty rate   ${formatCount(s.dirtyPagesRate)} pages/s during the live phase; dirty-sync-count ${s.dirtySyncCount}`,
    `  guest        ${formatCount(s.guestEvents)} events; slowdown ${fmtPercent(s.migrationSlowdown)} (live phase), ${fmtPercent(s.slowdown)} (whole run); vCPU stall ${formatDurationNs(s.migrationStallNs)} (live phase), ${formatDurationNs(s.stallNs)} (whole run)${s.throttlePct ? `; throttled to ${s.throttlePct}%` : ''}`,
    `  tracker      ${formatBytes(s.trackerMemoryBytes)} of hypervisor memory at most`,
  );
  if (s.vcpuSlowdown) lines.push(`  per vCPU     slowdown in the live phase (exits, pauses, throttle or dirty-limit sleeps): ${s.vcpuSlowdown.map((x, v) => `vCPU ${v} ${fmtPercent(x)}`).join(', ')}`);
  lines.push(...statLines(s.trackerStats));
  lines.push('  exits and operations (whole run):');
  lines.push(...exitLines(s.exits));
  if (s.policy === 'postcopy') lines.push(`  post-copy    ${formatCount(s.postcopyFaults)} faults on pages not yet received, ${formatDurationNs(s.postcopyFaultStallNs)} waiting for them`);
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
  if (lost) lines.push(`  LOST ${formatCount(s.lostPages)} pages and ${formatCount(s.lostPtes)} page-table entries (first pfns ${s.firstLostPfns.join(', ')}): the destination is not the source`);
  else if (s.outcome === 'completed') lines.push('  lost pages   0 (the oracle checked every page at resume)');
  return lines.join('\n') + '\n';
}

/** A tracker's own counts as a block, a few to a line, instead of one line of hundreds of characters. */
export function statLines(stats: Readonly<Record<string, number>>): string[] {
  const items = Object.entries(stats).map(([k, v]) => `${k} ${formatCount(v)}`);
  return items.length ? wrapLines(items.join(', '), 96).map((l) => `    ${l}`) : [];
}

/** One line per exit kind: its count and the vCPU time it cost. */
export function exitLines(exits: Readonly<Record<string, ExitTally>>): string[] {
  // KVM's longer kind names widen the column only where they appear.
  const width = Math.max(16, ...Object.keys(exits).map((k) => k.length));
  return Object.entries(exits).map(([k, v]) => `    ${k.padEnd(width)} ${formatCount(v.count).padStart(12)}  ${formatDurationNs(v.costNs).padStart(12)}`);
}

/** The rounds a text summary lists: all of them, or past 40 the first and last 20 with `undefined` where the rest are left out. */
export function elideRounds<T>(rounds: readonly T[]): readonly (T | undefined)[] {
  return rounds.length > 40 ? [...rounds.slice(0, 20), undefined, ...rounds.slice(-20)] : rounds;
}
