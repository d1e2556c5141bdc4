import { CAPTURE_DEFAULT_MIX, type ContentMix } from '../reducers/migration/page-contents.js';
import type { TraceHeader } from '../trace/trace-records.js';
import { WORKLOADS } from '../workloads/registry.js';

/**
 * The page contents of a guest whose run gives none: its built-in
 * workload's own mix (each workload states what its pages hold and why),
 * else, for an imported capture (which records where pages were written,
 * never what they held), the stated default.
 */
export function contentMixOf(h: TraceHeader): ContentMix {
  const def = WORKLOADS.find((w) => w.name === h.workload.name);
  const mix = def?.pageContents?.(h.workload.params);
  if (mix) return mix;
  return { ...CAPTURE_DEFAULT_MIX, why: `${h.workload.name}: ${CAPTURE_DEFAULT_MIX.why}` };
}
