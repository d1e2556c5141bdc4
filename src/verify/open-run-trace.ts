import { type RunSpec, runSpecOf } from '../api/record-run.js';
import type { TraceHeader } from '../trace/trace-records.js';
import { TraceReader } from '../trace/trace-reader.js';

/**
 * A run trace opened for replay: its reader, header and the run it
 * records. A header that names no valid run closes the file before the
 * error goes on, so a refused trace leaves nothing open.
 */
export function openRunTrace(file: string): { reader: TraceReader; header: TraceHeader; spec: RunSpec } {
  const reader = TraceReader.open(file);
  try {
    return { reader, header: reader.header, spec: runSpecOf(reader.header, file) };
  } catch (e) {
    reader.close();
    throw e;
  }
}
