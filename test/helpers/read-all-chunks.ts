import { copyGuestBatch } from '../../src/events/guest-batch.js';
import { copyRunBatch } from '../../src/events/run-batch.js';
import type { TraceHeader } from '../../src/trace/trace-records.js';
import { type TraceChunk, TraceReader, type TraceReaderOptions } from '../../src/trace/trace-reader.js';
import { TraceWriter } from '../../src/trace/trace-writer.js';

export interface ReadTrace {
  readonly header: TraceHeader;
  readonly chunks: TraceChunk[];
  readonly footer: ReturnType<TraceReader['forEachChunk']>;
  readonly version: number;
}

/** Every chunk of a trace, copied (a reader reuses its arrays), with its header and footer. */
export function readAllChunks(file: string, options?: TraceReaderOptions): ReadTrace {
  const r = TraceReader.open(file, options);
  const chunks: TraceChunk[] = [];
  const footer = r.forEachChunk((c) => chunks.push(c.stream === 'guest' ? { ...c, batch: copyGuestBatch(c.batch) } : { ...c, batch: copyRunBatch(c.batch) }));
  return { header: r.header, chunks, footer, version: r.header.version };
}

/** Writes a trace's chunks again, in the format this migsim writes, to `out`; returns the new footer. */
export function writeAgain(old: ReadTrace, out: string): ReturnType<TraceWriter['finish']> {
  const w = new TraceWriter(out, old.header);
  for (const c of old.chunks) {
    if (c.stream === 'guest') w.writeGuestBatch(c.batch);
    else w.writeRunBatch(c.batch);
  }
  return w.finish({ workloadStats: old.footer.workloadStats, ...(old.footer.run ? { run: old.footer.run } : {}) });
}
