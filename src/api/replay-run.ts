import { copyRunBatch, type RunBatch, RUN_COLUMNS } from '../events/run-batch.js';
import { RUN_EVENT_KIND_NAMES } from '../events/run-event-kind.js';
import { TraceReader } from '../trace/trace-reader.js';
import { runSpecOf } from './record-run.js';
import type { ReplayDifference, ReplayResult } from './replay.js';
import { migrateEvents, type MigrationSummary } from './run-migration.js';
import { firstBatchDifference } from './batch-difference.js';

class StopReplay extends Error {}

/**
 * Re-derives every run event of a run trace from its own guest events and
 * header, and compares them, then the summary, with what was recorded.
 * `onProgress` is told the share of the file read, once per chunk.
 */
export function replayRunVerify(file: string, onProgress?: (fraction: number) => void): ReplayResult & { summaryIdentical: boolean; summary?: MigrationSummary } {
  const reader = TraceReader.open(file);
  const header = reader.header;
  const spec = runSpecOf(header);
  // Recorded and re-derived run batches are compared as soon as both sides
  // have one: the recording wrote each batch when it filled, the replay
  // derives it at the same point, so the queues stay short.
  const derived: RunBatch[] = [];
  const recorded: RunBatch[] = [];
  let chunks = 0;
  let events = 0;
  let runChunk = 0;
  let diff: ReplayDifference | undefined;
  const drain = () => {
    while (!diff && derived.length > 0 && recorded.length > 0) {
      const rec = recorded.shift()!;
      diff = compareRun(runChunk, events, rec, derived.shift());
      runChunk++;
      events += rec.count;
    }
    if (diff) throw new StopReplay();
  };
  let summary: MigrationSummary | undefined;
  try {
    summary = migrateEvents(
      header,
      (step) => {
        for (let c = reader.nextChunk(); c; c = reader.nextChunk()) {
          chunks++;
          if (c.stream === 'guest') step(c.batch);
          else recorded.push(copyRunBatch(c.batch));
          drain();
          onProgress?.(reader.fractionRead);
        }
      },
      spec,
      (b) => {
        derived.push(copyRunBatch(b));
        drain();
      },
    );
  } catch (e) {
    if (!(e instanceof StopReplay)) throw e;
  } finally {
    reader.close();
  }
  if (!diff && derived.length > 0) {
    diff = { chunk: runChunk, event: 0, eventOverall: events, column: '(end)', recorded: 'end of run events', regenerated: `${derived[0]!.count} more run events` };
  }
  if (!diff && recorded.length > 0) {
    diff = { chunk: runChunk, event: 0, eventOverall: events, column: '(end)', recorded: `${recorded[0]!.count} more run events`, regenerated: 'end of run events' };
  }
  let summaryIdentical = false;
  let recordedDigest = '';
  if (!diff) {
    const recorded = reader.footer.run?.['summary'];
    summaryIdentical = JSON.stringify(recorded) === JSON.stringify(summary);
    recordedDigest = (recorded as { stateDigest?: string } | undefined)?.stateDigest ?? '';
    if (!summaryIdentical) diff = { chunk: -1, event: 0, eventOverall: events, column: '(summary)', recorded: 'recorded summary', regenerated: 'a different summary' };
  }
  const regenerated = (summary as { stateDigest?: string } | undefined)?.stateDigest ?? '';
  return { identical: !diff, chunks, events, recordedDigest, regeneratedDigest: regenerated, summaryIdentical, ...(summary ? { summary } : {}), ...(diff ? { firstDifference: diff } : {}) };
}

function compareRun(chunk: number, before: number, rec: RunBatch, got: RunBatch | undefined): ReplayDifference | undefined {
  if (!got) return { chunk, event: 0, eventOverall: before, column: '(end)', recorded: `${rec.count} run events`, regenerated: 'none' };
  return firstBatchDifference(chunk, before, rec, got, RUN_COLUMNS, RUN_EVENT_KIND_NAMES);
}
