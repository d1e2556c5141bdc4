import { configFromHeader } from '../api/record.js';
import { TraceError } from '../trace/trace-error.js';
import type { TraceHeader } from '../trace/trace-records.js';
import { findWorkload, UnknownWorkloadError, WORKLOADS } from '../workloads/registry.js';
import { ParamError, resolveParams } from '../workloads/resolve-params.js';
import { GuestResourceError } from '../workloads/guest-resource-error.js';
import { ConfigError } from '../model/guest-config.js';
import { LACKEY_WORKLOAD } from '../import/lackey-importer.js';
import { RTDIRTY_WORKLOAD } from '../import/rtdirty-importer.js';
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
  const bad = (problem: string) => badHeader(file, problem);
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

/**
 * Where a trace's guest events come from, as a replay must know: a
 * built-in workload (no source), or a capture an importer read (its name,
 * and the source it records). Anything else is a header no migsim writes.
 */
export function headerOrigin(file: string, h: TraceHeader): 'built-in' | 'imported' {
  const name = h.workload.name;
  if (h.source) {
    if (name === RTDIRTY_WORKLOAD || name === LACKEY_WORKLOAD) return 'imported';
    throw badHeader(file, `source: a workload '${name}' with a source (only an importer, ${RTDIRTY_WORKLOAD} or ${LACKEY_WORKLOAD}, writes one)`);
  }
  if (WORKLOADS.some((w) => w.name === name)) return 'built-in';
  throw badHeader(file, `workload.name: '${name}' is not a built-in workload, and the header names no capture it was imported from`);
}

/** The error for a header field that cannot be what migsim wrote. */
export function badHeader(file: string, problem: string): TraceError {
  return new TraceError(file, `bad header field ${problem}`, undefined, 'header', 'the file was altered, or written by another program; record it again');
}

/**
 * Runs `regenerate`, which runs the header's workload: a guest the header
 * describes but the workload cannot run in (too little memory for its
 * kernel, say) is a TraceError naming `file`, as a header that fails its
 * checks is, since `record` would never have written it.
 */
export function asHeaderError<T>(file: string, regenerate: () => T): T {
  try {
    return regenerate();
  } catch (e) {
    if (e instanceof GuestResourceError || e instanceof ConfigError || e instanceof ParamError) {
      throw new TraceError(file, `the header's workload does not run: ${e.message}`, undefined, 'header', 'the file was altered, or written by another program; record it again');
    }
    throw e;
  }
}
