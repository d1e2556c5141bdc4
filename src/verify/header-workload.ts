import { configFromHeader } from '../api/record.js';
import { TraceError } from '../trace/trace-error.js';
import type { TraceHeader } from '../trace/trace-records.js';
import { findWorkload, UnknownWorkloadError, WORKLOADS } from '../workloads/registry.js';
import { ParamError, resolveParams } from '../workloads/resolve-params.js';
import type { WorkloadConfig, WorkloadDefinition } from '../workloads/workload.js';

/**
 * The built-in workload a trace's header names, ready to regenerate its
 * events, with its parameters held to what `record` writes: every
 * parameter the workload takes, each a value its checks accept (a timer
 * of 0 Hz, a rate written as text or a size of -1 would make the workload
 * fail, or generate something no recording could hold). A header that
 * fails is a TraceError naming `file`.
 */
export function headerWorkload(file: string, h: TraceHeader): { def: WorkloadDefinition; config: WorkloadConfig } {
  const bad = (problem: string) => new TraceError(file, `bad header field ${problem}`, undefined, 'header', 'the file was altered, or written by another program; record it again');
  let def: WorkloadDefinition;
  try {
    def = findWorkload(h.workload.name);
  } catch (e) {
    if (e instanceof UnknownWorkloadError) throw bad(`workload.name: ${e.message}`);
    throw e;
  }
  const params = h.workload.params;
  let resolved: Record<string, number | string>;
  try {
    resolved = resolveParams(def, params);
  } catch (e) {
    if (e instanceof ParamError) throw bad(`workload.params: ${e.message}`);
    throw e;
  }
  for (const p of def.params) {
    if (!(p.name in params)) throw bad(`workload.params.${p.name}: missing (record writes every parameter of '${def.name}')`);
    if (resolved[p.name] !== params[p.name]) throw bad(`workload.params.${p.name}: ${JSON.stringify(params[p.name])} is not a value record writes (${JSON.stringify(resolved[p.name])})`);
  }
  return { def, config: configFromHeader(h) };
}

/** Guest events that regenerate from the header: a built-in workload's, not an imported capture's. */
export function isBuiltInWorkload(h: TraceHeader): boolean {
  return !h.source && WORKLOADS.some((w) => w.name === h.workload.name);
}
