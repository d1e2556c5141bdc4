import { DOUBLE_FIRST } from '../util/double-field.js';

/**
 * A columnar batch of run events (faults, exits, log-dirty operations,
 * migration phases, divergences) in wall-time order. Event i happens at wall
 * time baseNs + dtNs[0] + ... + dtNs[i]. Same validity rule as GuestBatch:
 * copy it to keep it past the synchronous `next`.
 */
export interface RunBatch {
  readonly count: number;
  readonly baseNs: number;
  readonly endNs: number;
  readonly kind: Uint8Array;
  readonly dtNs: Uint32Array;
  readonly vcpu: Uint16Array;
  readonly page: Int32Array;
  readonly arg: Int32Array;
  readonly costNs: Uint32Array;
}

export const RUN_COLUMNS = ['kind', 'dtNs', 'vcpu', 'page', 'arg', 'costNs'] as const;

export function copyRunBatch(b: RunBatch): RunBatch {
  return {
    count: b.count,
    baseNs: b.baseNs,
    endNs: b.endNs,
    kind: b.kind.slice(0, b.count),
    dtNs: b.dtNs.slice(0, b.count),
    vcpu: b.vcpu.slice(0, b.count),
    page: b.page.slice(0, b.count),
    arg: b.arg.slice(0, b.count),
    costNs: b.costNs.slice(0, b.count),
  };
}

/** One run batch made as this module loads, with double times: see DOUBLE_TIMED_GUEST_BATCH (src/events/guest-batch.ts). */
export const DOUBLE_TIMED_RUN_BATCH: RunBatch = copyRunBatch({ count: 0, baseNs: DOUBLE_FIRST, endNs: DOUBLE_FIRST, kind: new Uint8Array(0), dtNs: new Uint32Array(0), vcpu: new Uint16Array(0), page: new Int32Array(0), arg: new Int32Array(0), costNs: new Uint32Array(0) });
