import { CAPTURE_DEFAULT_MIX, type ContentMix, WRITTEN_PAGES_OPAQUE } from '../reducers/migration/page-contents.js';
import type { TraceHeader } from '../trace/trace-records.js';
import { WORKLOADS } from '../workloads/registry.js';

/**
 * The page contents of a guest whose run gives none: its built-in
 * workload's own mix (each workload states what its pages hold and why);
 * for an imported capture (`import:rtdirty`, `import:lackey`), which records
 * where pages were written but never what they held, the stated default;
 * for any other guest (a workload of the API's caller), migsim's rule before
 * page contents: written pages opaque, none zero.
 */
export function contentMixOf(h: TraceHeader): ContentMix {
  const name = h.workload.name;
  const mix = WORKLOADS.find((w) => w.name === name)?.pageContents?.(h.workload.params);
  if (mix) return mix;
  if (name.startsWith('import:')) return { ...CAPTURE_DEFAULT_MIX, why: `${name}: ${CAPTURE_DEFAULT_MIX.why}` };
  return { ...WRITTEN_PAGES_OPAQUE, why: `${name}: ${WRITTEN_PAGES_OPAQUE.why}` };
}
