import type { TraceHeader } from '../trace/trace-records.js';

/**
 * The share (0..1) of a workload's guest time that a batch ending at
 * `endNs` has reached, for progress bars. A zero duration counts as 1 ns so
 * that the share stays finite, and a batch past the recorded duration
 * counts as done.
 */
export function guestTimeShare(header: Pick<TraceHeader, 'workload'>): (endNs: number) => number {
  const durationNs = Math.max(header.workload.durationNs, 1);
  return (endNs) => Math.min(endNs / durationNs, 1);
}
