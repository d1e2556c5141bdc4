import { filter, map, Observable } from '../util/rx.js';
import type { GuestBatch } from '../events/guest-batch.js';
import { type TraceChunk, TraceReader, type TraceReaderOptions } from '../trace/trace-reader.js';
import type { TraceFooter, TraceHeader } from '../trace/trace-records.js';

/**
 * A trace's chunks as an RxJS source, read on subscribe in bounded memory.
 * `onHeader` sees the header before the first chunk, `onFooter` the checked
 * footer at the end. Batches are reused between emissions: copy to keep.
 */
export function readTrace(
  file: string,
  hooks: { onHeader?: (h: TraceHeader) => void; onFooter?: (f: TraceFooter) => void } = {},
  options: TraceReaderOptions = {},
): Observable<TraceChunk> {
  return new Observable<TraceChunk>((subscriber) => {
    let reader: TraceReader | undefined;
    try {
      reader = TraceReader.open(file, options);
      hooks.onHeader?.(reader.header);
      for (let c = reader.nextChunk(); c && !subscriber.closed; c = reader.nextChunk()) subscriber.next(c);
      if (!subscriber.closed) {
        hooks.onFooter?.(reader.footer);
        subscriber.complete();
      }
    } catch (e) {
      subscriber.error(e);
    }
    return () => reader?.close();
  });
}

/** Only the guest events of a trace. */
export function readGuestBatches(
  file: string,
  options: TraceReaderOptions = {},
  hooks: { onHeader?: (h: TraceHeader) => void; onFooter?: (f: TraceFooter) => void } = {},
): Observable<GuestBatch> {
  return readTrace(file, hooks, options).pipe(
    filter((c): c is Extract<TraceChunk, { stream: 'guest' }> => c.stream === 'guest'),
    map((c) => c.batch),
  );
}
