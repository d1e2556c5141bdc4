import { takeWhile } from '../util/rx.js';
import { type GuestBatch, GUEST_COLUMNS } from '../events/guest-batch.js';
import { GUEST_EVENT_KIND_NAMES } from '../events/guest-event-kind.js';
import { BatchDigest, STREAM_TAG } from '../trace/batch-digest.js';
import { TraceReader } from '../trace/trace-reader.js';
import { drainSync } from '../util/drain-sync.js';
import { workloadEvents } from '../workloads/workload-events.js';
import { firstBatchDifference, type ReplayDifference } from './batch-difference.js';

export type { ReplayDifference } from './batch-difference.js';
import type { WorkloadStats } from '../workloads/workload.js';
import { asHeaderError, headerWorkload } from './header-workload.js';

export interface ReplayResult {
  readonly identical: boolean;
  readonly chunks: number;
  readonly events: number;
  readonly recordedDigest: string;
  readonly regeneratedDigest: string;
  readonly firstDifference?: ReplayDifference;
}

/**
 * Regenerates a workload trace from its header (workload, parameters, seed,
 * guest) and compares it with the recorded events, chunk by chunk, stopping
 * at the first difference. The trace itself is checked as it is read.
 * `onProgress` is told the share of the file read, once per chunk.
 */
export function replayVerify(file: string, onProgress?: (fraction: number) => void): ReplayResult {
  const reader = TraceReader.open(file);
  const header = reader.header;
  let workload: ReturnType<typeof headerWorkload>;
  try {
    workload = headerWorkload(file, header);
  } catch (e) {
    reader.close();
    throw e;
  }
  const digest = new BatchDigest();
  let chunks = 0;
  let events = 0;
  let diff: ReplayDifference | undefined;
  let stats: WorkloadStats | undefined;
  try {
    // Generation stops at the batch after the first difference.
    const regenerated = workloadEvents(workload.def, workload.config, (s) => (stats = s), header.chunkEvents).pipe(takeWhile(() => diff === undefined));
    asHeaderError(file, () => drainSync(regenerated, (regen) => {
      digest.add(STREAM_TAG.guest, regen.count, GUEST_COLUMNS.map((c) => regen[c]));
      diff = compareBatches(chunks, events, nextGuestChunk(reader), regen);
      onProgress?.(reader.fractionRead);
      chunks++;
      events += regen.count;
    }));
    if (!diff) {
      const rec = nextGuestChunk(reader);
      if (rec) diff = { chunk: chunks, event: 0, eventOverall: events, column: '(end)', recorded: `${rec.count} more events`, regenerated: 'end of stream' };
    }
    // What the workload reported about itself is shown by inspect: it must
    // be what the workload reports again. A run trace recorded from a
    // workload trace carries none (nothing to check).
    if (!diff && stats) {
      const recorded = reader.footer.workloadStats;
      if (header.traceKind === 'workload' || Object.keys(recorded).length > 0) diff = statsDifference(chunks, events, recorded, stats);
    }
  } finally {
    reader.close();
  }
  const regeneratedDigest = digest.hex();
  let recordedDigest = '';
  try {
    recordedDigest = reader.footer.digest;
  } catch {
    // Stopped at a difference before the footer.
  }
  // A run trace's footer digest also covers its run chunks: its guest
  // events were compared one by one above, and the reader checked the file.
  const digestMatches = header.traceKind === 'run' || recordedDigest === regeneratedDigest;
  return {
    identical: !diff && digestMatches,
    chunks,
    events,
    recordedDigest,
    regeneratedDigest,
    ...(diff ? { firstDifference: diff } : {}),
  };
}

function compareBatches(chunk: number, before: number, rec: GuestBatch | undefined, regen: GuestBatch): ReplayDifference | undefined {
  if (!rec) return { chunk, event: 0, eventOverall: before, column: '(end)', recorded: 'end of stream', regenerated: `${regen.count} more events` };
  return firstBatchDifference(chunk, before, rec, regen, GUEST_COLUMNS, GUEST_EVENT_KIND_NAMES);
}

/** The next guest chunk of a trace (a run trace interleaves run chunks), or undefined at the footer. */
function nextGuestChunk(reader: TraceReader): GuestBatch | undefined {
  for (let c = reader.nextChunk(); c; c = reader.nextChunk()) if (c.stream === 'guest') return c.batch;
  return undefined;
}

/** The first workload statistic (by name) the footer and the regenerated workload disagree on, if any. */
function statsDifference(chunks: number, events: number, recorded: WorkloadStats, regenerated: WorkloadStats): ReplayDifference | undefined {
  const keys = [...new Set([...Object.keys(recorded), ...Object.keys(regenerated)])].sort();
  const k = keys.find((key) => recorded[key] !== regenerated[key]);
  if (k === undefined) return undefined;
  const show = (s: WorkloadStats) => (k in s ? `${k} ${s[k]}` : `no ${k}`);
  return { chunk: chunks, event: 0, eventOverall: events, column: '(workloadStats)', recorded: show(recorded), regenerated: show(regenerated) };
}
