/**
 * The Chrome trace event format (JSON object form) that Perfetto's trace
 * processor and chrome://tracing import, as a schema: the trace processor
 * itself (its npm package, its Python wheel) cannot be installed here, so
 * an export is parsed and checked against what the format's specification
 * ("Trace Event Format", the Google document Perfetto's json_trace_parser
 * follows) requires of each phase:
 * - `X` (complete event): name, pid, tid, ts and dur in microseconds, dur >= 0;
 * - `C` (counter): name, pid, ts, and args whose values are numbers (each a series);
 * - `i` (instant): name, pid, tid, ts, scope s in g, p or t;
 * - `M` (metadata): process_name / thread_name with args.name, thread_sort_index
 *   with args.sort_index, or an event of the exporter's own (ignored by viewers).
 * Beyond the schema, `traceProblems` checks what the importer needs to draw
 * tracks: slices on one thread nest (no partial overlap) and every thread
 * that carries a slice is named.
 */
import { z } from 'zod';

const time = z.number().finite().nonnegative();
const id = z.number().int().nonnegative();
const args = z.record(z.string(), z.unknown());

const complete = z.object({ ph: z.literal('X'), name: z.string().min(1), pid: id, tid: id, ts: time, dur: time, args: args.optional() }).strict();
const counter = z.object({ ph: z.literal('C'), name: z.string().min(1), pid: id, ts: time, args: z.record(z.string(), z.number().finite()) }).strict();
const instant = z.object({ ph: z.literal('i'), name: z.string().min(1), pid: id, tid: id, ts: time, s: z.enum(['g', 'p', 't']), args: args.optional() }).strict();
const processName = z.object({ ph: z.literal('M'), name: z.literal('process_name'), pid: id, args: z.object({ name: z.string().min(1) }) }).strict();
const threadName = z.object({ ph: z.literal('M'), name: z.literal('thread_name'), pid: id, tid: id, args: z.object({ name: z.string().min(1) }) }).strict();
const threadSort = z.object({ ph: z.literal('M'), name: z.literal('thread_sort_index'), pid: id, tid: id, args: z.object({ sort_index: z.number().int() }) }).strict();
const ownMeta = z.object({ ph: z.literal('M'), name: z.literal('migsim_export'), pid: id, args }).strict();

export const traceEventSchema = z.union([complete, counter, instant, processName, threadName, threadSort, ownMeta]);
export type TraceEvent = z.infer<typeof traceEventSchema>;

export const chromeTraceSchema = z
  .object({
    displayTimeUnit: z.enum(['ms', 'ns']),
    traceEvents: z.array(traceEventSchema).min(1),
    otherData: args,
  })
  .strict();

/** What the schema cannot say: slices nest on each thread, threads with slices are named. */
export function traceProblems(events: readonly TraceEvent[]): string[] {
  const problems: string[] = [];
  const named = new Set(events.filter((e) => e.ph === 'M' && e.name === 'thread_name').map((e) => (e as { tid: number }).tid));
  const byTid = new Map<number, { name: string; ts: number; dur: number }[]>();
  for (const e of events) if (e.ph === 'X') byTid.set(e.tid, [...(byTid.get(e.tid) ?? []), e]);
  const eps = 1e-6;
  for (const [tid, slices] of byTid) {
    if (!named.has(tid)) problems.push(`thread ${tid} carries slices but has no thread_name`);
    slices.sort((a, b) => a.ts - b.ts || b.dur - a.dur);
    const open: number[] = [];
    for (const s of slices) {
      while (open.length && open[open.length - 1]! <= s.ts + eps) open.pop();
      const parentEnd = open[open.length - 1];
      if (parentEnd !== undefined && s.ts + s.dur > parentEnd + eps) problems.push(`thread ${tid}: ${s.name} at ${s.ts} us overlaps its neighbour`);
      open.push(s.ts + s.dur);
    }
  }
  return problems;
}
