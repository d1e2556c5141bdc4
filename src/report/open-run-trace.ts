import { type RunSpec, runSpecOf } from '../api/record-run.js';
import { TraceError } from '../trace/trace-error.js';
import { TraceReader } from '../trace/trace-reader.js';
import type { TraceHeader } from '../trace/trace-records.js';

/**
 * Opens a run trace (written by `migsim run --record`): its reader, header
 * and the run spec the header records. A workload trace holds guest events
 * only, so it is refused with the command that records a run trace of it,
 * after `fixLead` (what the caller wants done, as the start of a sentence).
 */
export function openRunTrace(file: string, fixLead: string): { reader: TraceReader; header: TraceHeader; spec: RunSpec } {
  const reader = TraceReader.open(file);
  const header = reader.header;
  if (header.traceKind !== 'run' || !header.run) {
    reader.close();
    throw new TraceError(file, 'is a workload trace (guest events only), not a run trace', undefined, 'header', `${fixLead} migsim run ${header.workload.name} --tracker pml --record RUN.mst`);
  }
  try {
    return { reader, header, spec: runSpecOf(header, file) };
  } catch (e) {
    reader.close();
    throw e;
  }
}
