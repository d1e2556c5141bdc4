import { parseDurationNs, parseNumber, parseSizeBytes, UnitError } from '../model/units.js';
import type { ParamSpec, WorkloadDefinition } from './workload.js';

export class ParamError extends Error {
  override readonly name = 'ParamError';
}

/**
 * Applies defaults and parses `key=value` settings against a workload's
 * parameter list. Unknown keys and bad values are errors that name the
 * workload, the key and what is accepted.
 */
export function resolveParams(
  def: WorkloadDefinition,
  settings: Readonly<Record<string, string | number>>,
): Record<string, number | string> {
  const out: Record<string, number | string> = {};
  for (const p of def.params) out[p.name] = p.default;
  for (const [key, raw] of Object.entries(settings)) {
    const spec = def.params.find((p) => p.name === key);
    if (!spec) {
      const known = def.params.map((p) => p.name).join(', ') || '(none)';
      throw new ParamError(`workload '${def.name}' has no parameter '${key}' (it takes: ${known})`);
    }
    const value = parseParam(def.name, spec, raw);
    if (spec.max !== undefined && typeof value === 'number' && value > spec.max) {
      throw new ParamError(`workload '${def.name}': bad value '${raw}' for '${key}': at most ${spec.max}`);
    }
    if (spec.min !== undefined && typeof value === 'number' && value < spec.min) {
      throw new ParamError(`workload '${def.name}': bad value '${raw}' for '${key}': at least ${spec.min}`);
    }
    out[key] = value;
  }
  return out;
}

function parseParam(workload: string, spec: ParamSpec, raw: string | number): number | string {
  const text = String(raw);
  try {
    switch (spec.kind) {
      case 'enum':
        if (!spec.choices?.includes(text)) {
          throw new ParamError(`must be one of ${spec.choices?.join(', ')}`);
        }
        return text;
      // A number (from a trace header) is checked as the parsed text is.
      case 'size': {
        const n = typeof raw === 'number' ? raw : parseSizeBytes(text);
        if (!Number.isSafeInteger(n) || n < 0) throw new ParamError('must be a non-negative whole number of bytes');
        return n;
      }
      case 'duration': {
        const n = typeof raw === 'number' ? raw : parseDurationNs(text);
        if (!Number.isSafeInteger(n) || n < 0) throw new ParamError('must be a non-negative whole number of ns');
        return n;
      }
      case 'int': {
        const n = parseNumber(text);
        if (!Number.isSafeInteger(n) || n < 0) throw new ParamError('must be a non-negative integer');
        return n;
      }
      case 'fraction': {
        const n = parseNumber(text);
        if (!(n >= 0 && n <= 1)) throw new ParamError('must be between 0 and 1');
        return n;
      }
      case 'rate':
      case 'number': {
        const n = parseNumber(text);
        if (!(n >= 0)) throw new ParamError('must be a non-negative number');
        return n;
      }
    }
  } catch (e) {
    if (e instanceof ParamError || e instanceof UnitError) {
      throw new ParamError(`workload '${workload}': bad value '${text}' for '${spec.name}': ${e.message}`);
    }
    throw e;
  }
}
