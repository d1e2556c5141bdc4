import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { TraceReader } from '../trace/trace-reader.js';
import { TraceWriter } from '../trace/trace-writer.js';
import { guestTimeShare } from '../api/guest-time-share.js';
import { runSpecOf } from '../api/record-run.js';
import { replayVerify } from './replay.js';
import { replayRunVerify } from './replay-run.js';
import { migrate, type MigrationSummary, summarizeMigration, tapRunBatches } from '../api/run-migration.js';
import { readGuestBatches } from '../api/read.js';
import { lastValueSync } from '../util/last-value-sync.js';
import { tap } from '../util/rx.js';
import { findWorkload } from '../workloads/registry.js';
import { isBuiltInWorkload } from './header-workload.js';
import { workloadEvents } from '../workloads/workload-events.js';
import { configFromHeader } from '../api/record.js';
import { stepProgress } from '../util/progress-step.js';
import { writeFileAtomic } from '../util/atomic-write.js';
import { PROGRAM_NAME, PROGRAM_VERSION } from '../version.js';

export interface GoldenCase {
  readonly name: string;
  readonly trace: string;
  readonly summaryFile: string;
}

export interface GoldenOutcome {
  readonly name: string;
  readonly ok: boolean;
  /** What differs, one line each (empty when ok). */
  readonly differences: readonly string[];
}

/** The golden run traces of a directory: every `*.mst` with its `*.summary.txt`. */
export function goldenCases(dir: string): GoldenCase[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((f) => f.endsWith('.mst'))
    .sort()
    .map((f) => {
      const name = basename(f, '.mst');
      return { name, trace: join(dir, f), summaryFile: join(dir, `${name}.summary.txt`) };
    });
}

/**
 * The readable form of a summary that sits beside each golden trace: one
 * `key: value` line per figure, rounds one per line, so a reviewer diffs
 * text, not bytes.
 */
export function summaryText(s: MigrationSummary): string {
  const lines: string[] = [];
  const put = (k: string, v: unknown) => lines.push(`${k}: ${typeof v === 'number' && !Number.isInteger(v) ? v.toFixed(6) : String(v)}`);
  for (const [k, v] of Object.entries(s)) {
    if (k === 'rounds' || k === 'epochs' || k === 'throttleSteps' || k === 'firstLostPfns') continue;
    if (typeof v === 'object' && v !== null) for (const [k2, v2] of Object.entries(v)) put(`${k}.${k2}`, typeof v2 === 'object' ? JSON.stringify(v2) : v2);
    else put(k, v);
  }
  put('firstLostPfns', s.firstLostPfns.join(','));
  for (const r of s.rounds) lines.push(`round ${r.round}: ${r.startNs}..${r.endNs} ns sent ${r.pagesSent} zero ${r.zeroPages} skipped ${r.pagesSkipped} bytes ${r.bytesSent} dirty ${r.dirtyPages}`);
  for (const e of s.epochs) lines.push(`epoch ${e.epoch}: at ${e.atNs} ns dirty ${e.dirtyPages} pause ${e.pauseNs} ns bytes ${e.bytesSent}`);
  for (const t of s.throttleSteps) lines.push(`throttle: ${t.pct}% at ${t.atNs} ns`);
  return lines.join('\n') + '\n';
}

/**
 * Replays one golden trace: the guest events regenerate from the header
 * (for a built-in workload), every run event and the summary re-derive, and
 * the readable summary matches the file beside the trace. `onProgress` is
 * told the share of the case done, as each replay reads the trace.
 */
export function checkGolden(c: GoldenCase, onProgress?: (fraction: number) => void): GoldenOutcome {
  const differences: string[] = [];
  const header = TraceReader.open(c.trace);
  header.close();
  const h = header.header;
  if (h.traceKind !== 'run') return { name: c.name, ok: false, differences: [`${c.trace} is a workload trace, not a run trace: a golden trace is a run (record one with migsim run <workload> --tracker <tracker> --record ${c.trace})`] };
  const builtIn = isBuiltInWorkload(h);
  // Regenerating a built-in workload's guest events takes about as long as
  // re-deriving the run events (44% to 54% of the case on the golden
  // traces): half each.
  const guestShare = builtIn ? 0.5 : 0;
  if (builtIn) {
    const g = replayVerify(c.trace, stepProgress(onProgress, 0, guestShare));
    if (!g.identical) {
      const d = g.firstDifference;
      differences.push(d ? `guest events: chunk ${d.chunk} event ${d.event} ${d.column}: recorded ${d.recorded}, regenerated ${d.regenerated}` : 'guest events: digest differs');
    }
  }
  const r = replayRunVerify(c.trace, stepProgress(onProgress, guestShare, 1 - guestShare));
  if (!r.identical) {
    const d = r.firstDifference;
    differences.push(d ? `run events: chunk ${d.chunk} event ${d.event} ${d.column}: recorded ${d.recorded}, re-derived ${d.regenerated}` : 'run events differ');
  }
  const derived = r.summary ? summaryText(r.summary) : '';
  if (!existsSync(c.summaryFile)) {
    // Nothing to compare with: a check writes nothing, so say how to write it.
    differences.push(`${c.summaryFile}: missing (the summary this trace must replay to): write it with migsim golden update ${dirname(c.summaryFile)}, review it, and commit it with the trace`);
  } else {
    const expected = readFileSync(c.summaryFile, 'utf8');
    if (derived !== expected) differences.push(...textDiff(expected, derived, c.summaryFile));
  }
  return { name: c.name, ok: differences.length === 0, differences };
}

/**
 * Re-runs a golden trace's migration from its own guest events and rewrites
 * the trace and summary. Returns what changed. `onProgress` is told the
 * share of the guest time re-run, once per batch of guest events.
 */
export function updateGolden(c: GoldenCase, onProgress?: (fraction: number) => void): GoldenOutcome {
  const before = existsSync(c.summaryFile) ? readFileSync(c.summaryFile, 'utf8') : '';
  // Written atomically, the trace by TraceWriter: it replaces the one being read only once complete.
  const summary = rederive(c.trace, c.trace, onProgress);
  const after = summaryText(summary);
  writeFileAtomic(c.summaryFile, after);
  const differences = before === after ? [] : before === '' ? [`${c.summaryFile}: written (${after.split('\n').length - 1} lines)`] : textDiff(before, after, c.summaryFile);
  return { name: c.name, ok: true, differences };
}

/**
 * Re-runs a golden's migration with this version and writes it to `out`: a
 * built-in workload's guest events are generated again from the header (so
 * a changed workload shows up), an imported capture's are taken from the
 * trace itself.
 */
function rederive(trace: string, out: string, onProgress?: (fraction: number) => void): MigrationSummary {
  const reader = TraceReader.open(trace);
  reader.close();
  const h = reader.header;
  // By guest time, not bytes read: a built-in workload's events are
  // generated again, and the trace is not read past its header.
  const share = guestTimeShare(h);
  const spec = runSpecOf(h, trace);
  const writer = new TraceWriter(out, { ...h, program: { name: PROGRAM_NAME, version: PROGRAM_VERSION } });
  const builtIn = isBuiltInWorkload(h);
  let workloadStats: Readonly<Record<string, number>> = {};
  try {
    const guest$ = builtIn
      ? workloadEvents(findWorkload(h.workload.name), configFromHeader(h), (s) => (workloadStats = s), h.chunkEvents)
      : readGuestBatches(trace, {}, { onFooter: (f) => (workloadStats = f.workloadStats) });
    const summary = lastValueSync(
      guest$.pipe(
        tap((b) => {
          writer.writeGuestBatch(b);
          onProgress?.(share(b.endNs));
        }),
        migrate(h, spec),
        tapRunBatches((rb) => writer.writeRunBatch(rb)),
        summarizeMigration(h, spec),
      ),
    );
    writer.finish({ workloadStats, run: { summary: summary as unknown as Record<string, unknown> } });
    return summary;
  } catch (e) {
    writer.abort();
    throw e;
  } finally {
    reader.close();
  }
}


/** Lines removed (-) and added (+), in order, at most 20. */
function textDiff(before: string, after: string, file: string): string[] {
  const a = before.split('\n');
  const b = after.split('\n');
  const out: string[] = [];
  const n = Math.max(a.length, b.length);
  for (let i = 0; i < n && out.length < 20; i++) {
    if (a[i] === b[i]) continue;
    if (a[i] !== undefined && a[i] !== '') out.push(`${file}:${i + 1} - ${a[i]}`);
    if (b[i] !== undefined && b[i] !== '') out.push(`${file}:${i + 1} + ${b[i]}`);
  }
  return out;
}
