import { costModelWith } from '../../src/model/cost-model-file.js';

/** No tracking overhead, no fixed costs: the guest runs exactly at its rate (for the closed-form and policy tests). */
export const ZERO_COSTS = costModelWith({
  exitRoundTripNs: 0,
  npfHandleNs: 0,
  misconfigRecalcPerTableNs: 0,
  superpageSplitNs: 0,
  logDirtyOpBaseNs: 0,
  cleanPerLeafNs: 0,
  suspendNs: 0,
  resumeNs: 0,
  vcpuStateBytes: 0,
  deviceStateBytes: 0,
});

/** A page on the wire: its 4 KiB and the 8-byte header. */
export const PAGE_WIRE = 4096 + 8;
