import { z } from 'zod';
import { COLUMN_ENCODINGS } from './column-codec.js';
import { GUEST_TYPES, PAGING_MODES } from '../model/paging.js';

/**
 * Shapes of the header and footer records, checked on read so that a field
 * damaged in a way the checksum cannot see (a file written by a buggy or
 * foreign program) is named, not trusted. Chunks are checked by hand in the
 * reader: they are on the hot path.
 */
const count = z.number().int().nonnegative();
const paramValue = z.union([z.number(), z.string()]);

export const traceHeaderSchema = z.object({
  type: z.literal('header'),
  format: z.string(),
  version: z.number().int(),
  program: z.object({ name: z.string(), version: z.string() }),
  traceKind: z.enum(['workload', 'run']),
  encoding: z.enum(COLUMN_ENCODINGS as [string, ...string[]]),
  chunkEvents: z.number().int().positive(),
  guest: z.object({
    type: z.enum(GUEST_TYPES as [string, ...string[]]),
    paging: z.enum(PAGING_MODES as [string, ...string[]]),
    memPages: z.number().int().positive(),
    vcpus: z.number().int().positive(),
  }),
  workload: z.object({
    name: z.string(),
    seed: count,
    durationNs: count,
    params: z.record(z.string(), paramValue),
  }),
  source: z.record(z.string(), z.unknown()).optional(),
  run: z.record(z.string(), z.unknown()).optional(),
});

export const traceFooterSchema = z.object({
  type: z.literal('footer'),
  chunks: count,
  guestEvents: count,
  runEvents: count,
  lastNs: count,
  digest: z.string().regex(/^[0-9a-f]{64}$/),
  fileDigest: z.string().regex(/^[0-9a-f]{64}$/).optional(),
  guestEventsByKind: z.array(count),
  runEventsByKind: z.array(count),
  // What a workload reports are counts (src/workloads/workload.ts WorkloadStats).
  workloadStats: z.record(z.string(), count),
  run: z.record(z.string(), z.unknown()).optional(),
});

/** The first problem zod found, as "field.path: message". */
export function firstIssue(error: z.ZodError): string {
  const issue = error.issues[0]!;
  const path = issue.path.length ? issue.path.join('.') : '(record)';
  return `${path}: ${issue.message}`;
}
