import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { type CostModel, CostModelError, DEFAULT_COSTS } from './cost-model.js';
import { MAX_FRAMES } from './pte.js';

// The checked overrides of the cost model (a --costs file, a run trace's
// header), apart from the model itself so that a run with the defaults
// does not load zod.

/**
 * Bounds on what a cost may be, from a --costs file or a run trace's
 * header: far beyond any figure above, yet small enough that a run's
 * times stay exact integers (below 2^53 ns) and its memory bounded.
 */
/** A cost in time: at most 1,000 s for one operation. */
const ns = z.number().int().nonnegative().max(1e12);
/** A size in bytes: at most 1 GiB of state. */
const bytes = z.number().int().nonnegative().max(2 ** 30);

const costSchema = z
  .object({
    exitRoundTripNs: ns,
    npfHandleNs: ns,
    misconfigRecalcPerTableNs: ns,
    pmlFlushPerEntryNs: ns,
    superpageSplitNs: ns,
    shadowFaultNs: ns,
    ptEmulateNs: ns,
    shadowRebuildPerTableNs: ns,
    logDirtyOpBaseNs: ns,
    cleanPerLeafNs: ns,
    syncScanPerWordNs: ns,
    shadowBlowPerPageNs: ns,
    // A shadow of one guest table takes a page or a few (a PAE L2 takes four on 64-bit Xen).
    shadowPagesPerTable: z.number().int().positive().max(16),
    // The pool is host memory: no more frames than the model's PTE can name.
    shadowPoolPages: z.number().int().positive().max(MAX_FRAMES),
    shadowCr3UpdateNs: ns,
    oosResyncPerPageNs: ns,
    pageHeaderBytes: bytes,
    suspendNs: ns,
    canonicalisePerTableNs: ns,
    vcpuStateBytes: bytes,
    deviceStateBytes: bytes,
    resumeNs: ns,
    postcopyRequestRttNs: ns,
    checkpointCopyPerPageNs: ns,
    kvmWpFaultNs: ns,
    kvmSplitPerTableNs: ns,
    kvmProtectPerPageNs: ns,
    kvmIoctlBaseNs: ns,
    kvmUserspaceExitNs: ns,
    ringReapPerEntryNs: ns,
    multifdQueuePerPageNs: ns,
    migrationPagePerPageNs: ns,
    xbzrleHitPerPageNs: ns,
    xbzrleInsertPerPageNs: ns,
    socketSendPerKiBNs: ns,
    zeroScanZeroPageNs: ns,
    zeroScanNonZeroPageNs: ns,
  })
  .partial()
  .strict();

/** Applies overrides to the defaults, checking names and values. */
export function costModelWith(overrides: unknown, where = 'cost model'): CostModel {
  const parsed = costSchema.safeParse(overrides);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const path = issue.path.join('.') || '(top level)';
    const known = Object.keys(costSchema.shape).join(', ');
    const why = issue.code === 'unrecognized_keys' ? `unknown cost ${issue.keys.map((k) => `'${k}'`).join(', ')} (known: ${known})` : `${path}: ${issue.message}`;
    throw new CostModelError(`${where}: ${why}`);
  }
  return { ...DEFAULT_COSTS, ...parsed.data };
}

/** Reads a JSON file of overrides (`--costs FILE.json`). */
export function loadCostModel(file: string): CostModel {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw new CostModelError(`${file}: cannot read (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new CostModelError(`${file}: not valid JSON (${(e as Error).message})`);
  }
  return costModelWith(json, file);
}
