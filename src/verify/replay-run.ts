import { Observable, takeWhile, tap } from '../util/rx.js';
import type { GuestBatch } from '../events/guest-batch.js';
import { copyRunBatch, type RunBatch, RUN_COLUMNS } from '../events/run-batch.js';
import { RUN_EVENT_KIND_NAMES } from '../events/run-event-kind.js';
import { isRunFinal, type RunFinal } from '../reducers/run-final.js';
import { type MigrationSummary, SummaryFold } from '../reducers/summary.js';
import { drainSync } from '../util/drain-sync.js';
import { firstBatchDifference } from './batch-difference.js';
import { openRunTrace } from './open-run-trace.js';
import type { ReplayDifference, ReplayResult } from './replay.js';
import { migrate, migrationSummarySpec } from '../api/run-migration.js';

/**
 * Re-derives every run event of a run trace from its own guest events and
 * header, and compares them with what was recorded, stopping at the first
 * difference. Then the summary: the fold of the trace's recorded run events
 * and the run's final record must be the summary in its footer, which proves
 * that every figure there follows from the events in the file. `onProgress`
 * is told the share of the file read, once per chunk.
 */
export function replayRunVerify(file: string, onProgress?: (fraction: number) => void): ReplayResult & { summaryIdentical: boolean; summary?: MigrationSummary } {
  const { reader, header, spec } = openRunTrace(file);
  const recordedFold = new SummaryFold(migrationSummarySpec(header, spec));
  // Recorded and re-derived run batches are compared as soon as both sides
  // have one: the recording wrote each batch when it filled, the replay
  // derives it at the same point, so the queues stay short.
  const derived: RunBatch[] = [];
  const recorded: RunBatch[] = [];
  let chunks = 0;
  let events = 0;
  let runChunk = 0;
  let diff: ReplayDifference | undefined;
  let final: RunFinal | undefined;
  const drain = () => {
    while (!diff && derived.length > 0 && recorded.length > 0) {
      const rec = recorded.shift()!;
      diff = compareRun(runChunk, events, rec, derived.shift());
      runChunk++;
      events += rec.count;
    }
  };
  // The trace's guest chunks feed the simulation; its run chunks wait for their re-derived twins.
  const guest$ = new Observable<GuestBatch>((subscriber) => {
    for (let c = reader.nextChunk(); c && !subscriber.closed; c = reader.nextChunk()) {
      chunks++;
      if (c.stream === 'guest') subscriber.next(c.batch);
      else {
        const rb = copyRunBatch(c.batch);
        recordedFold.add(rb);
        recorded.push(rb);
        drain();
      }
      onProgress?.(reader.fractionRead);
    }
    subscriber.complete();
  });
  try {
    drainSync(
      guest$.pipe(
        migrate(header, spec),
        tap((x) => {
          if (isRunFinal(x)) final = x;
          else {
            derived.push(copyRunBatch(x));
            drain();
          }
        }),
        takeWhile(() => diff === undefined),
      ),
      () => {},
    );
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
  let summary: MigrationSummary | undefined;
  if (!diff && final) {
    summary = recordedFold.finish(final) as MigrationSummary;
    const inFooter = reader.footer.run?.['summary'];
    summaryIdentical = JSON.stringify(inFooter) === JSON.stringify(summary);
    recordedDigest = (inFooter as { stateDigest?: string } | undefined)?.stateDigest ?? '';
    if (!summaryIdentical) diff = { chunk: -1, event: 0, eventOverall: events, column: '(summary)', recorded: 'recorded summary', regenerated: 'a different summary' };
  }
  const regenerated = final?.stateDigest ?? '';
  return { identical: !diff, chunks, events, recordedDigest, regeneratedDigest: regenerated, summaryIdentical, ...(summary ? { summary } : {}), ...(diff ? { firstDifference: diff } : {}) };
}

function compareRun(chunk: number, before: number, rec: RunBatch, got: RunBatch | undefined): ReplayDifference | undefined {
  if (!got) return { chunk, event: 0, eventOverall: before, column: '(end)', recorded: `${rec.count} run events`, regenerated: 'none' };
  return firstBatchDifference(chunk, before, rec, got, RUN_COLUMNS, RUN_EVENT_KIND_NAMES);
}
