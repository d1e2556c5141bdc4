import { TraceReader } from '../trace/trace-reader.js';
import { stepProgress } from '../util/progress-step.js';
import { headerOrigin } from './header-workload.js';
import { replayVerify } from './replay.js';
import { replayRunVerify } from './replay-run.js';
import { isFleetVmTrace, replayFleetVmVerify } from './replay-fleet-vm.js';

/**
 * Regenerating a built-in workload's guest events takes about as long as
 * re-deriving the run events (44% to 54% of a golden check): half each.
 */
const GUEST_SHARE = 0.5;

/**
 * `migsim replay` of a run trace. Its run events and summary are re-derived
 * from its own guest events (replayRunVerify); when it names a built-in
 * workload, those guest events are first regenerated from the header and
 * compared, with the workload's statistics, as `golden check` does. Then
 * everything `inspect` and `report` show of the trace follows from its
 * header, and a trace whose guest events or statistics were edited
 * consistently (checksums and digest redone) is found out.
 */
export function replayRunTraceVerify(file: string, onProgress?: (fraction: number) => void): ReturnType<typeof replayRunVerify> {
  const reader = TraceReader.open(file);
  reader.close();
  // One VM of a recorded fleet: its inputs are in its footer.
  if (isFleetVmTrace(reader.header)) return replayFleetVmVerify(file, onProgress);
  // An imported capture's guest events are the trace's own: nothing to regenerate.
  if (headerOrigin(file, reader.header) === 'imported') return replayRunVerify(file, onProgress);
  const guest = replayVerify(file, stepProgress(onProgress, 0, GUEST_SHARE));
  if (!guest.identical) return { ...guest, summaryIdentical: false };
  return replayRunVerify(file, stepProgress(onProgress, GUEST_SHARE, 1 - GUEST_SHARE));
}
