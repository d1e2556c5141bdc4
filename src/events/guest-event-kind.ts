/**
 * Guest event kinds (DESIGN section 3). The numeric codes are part of the
 * trace format: never renumber, only append.
 *
 * Column use per kind (see GuestBatch):
 *   write      vcpu, page = vpn,     arg = bytes
 *   read       vcpu, page = vpn
 *   pt_write   vcpu, page = ptPfn,   arg = index, pte = new entry
 *   cr3_load   vcpu, page = rootPfn
 *   phys_write vcpu = issuer (NO_VCPU for device DMA), page = pfn, arg = bytes
 *   idle       vcpu: nothing runs on it until this event's time
 */
export const GuestEventKind = {
  write: 0,
  read: 1,
  ptWrite: 2,
  cr3Load: 3,
  physWrite: 4,
  idle: 5,
} as const;

/** Names as DESIGN section 3 spells them, indexed by code. */
export const GUEST_EVENT_KIND_NAMES: readonly string[] = ['write', 'read', 'pt_write', 'cr3_load', 'phys_write', 'idle'];

export const GUEST_EVENT_KIND_COUNT = GUEST_EVENT_KIND_NAMES.length;

/** vcpu value of a phys_write that no vCPU issued (a backend or device DMA). */
export const NO_VCPU = 0xffff;
