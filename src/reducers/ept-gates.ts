/**
 * The hardware's permission check under EPT, as the simulator sees it: per
 * guest page, whether an access goes on without the hypervisor. Intel's
 * processor checks the EPT entry of every guest-physical address it touches
 * (each guest page-table page the walk reads and the page accessed) and
 * exits only when the entry refuses; Xen changes entries in its fault
 * handlers and at log-dirty operations (xen/arch/x86/mm/p2m-ept.c).
 *
 * Each gate holds, per page (or per 2 MiB region for `read`), the epoch up
 * to which the access passes. The tracker owns the object and updates the
 * arrays in its slow paths; gates only open within an epoch, and a new epoch
 * (a log-dirty operation, between event-loop calls) closes them all.
 * Entries are bytes: the epoch counts to P2M_EPOCH_MAX and starts again at
 * 1 with every entry reset (p2m-table.ts), so a gate is one byte a page.
 */
export interface EptGates {
  /** The epoch a gate entry must hold to pass. */
  epoch: number;
  /** Epochs since boot, never reset (epoch starts again at 1 after P2M_EPOCH_MAX): names the epoch for the PSC's gate stamp. */
  epochCount: number;
  /** Per page: a store passes (a write, pt_write, phys_write, A/D store). */
  write: Uint8Array;
  /** Per 2 MiB region (pfn >>> READ_GATE_SHIFT): a load passes. */
  read: Uint8Array;
  /** Per page-table page the walk reads, indexed by ptPfn >>> walkShift. */
  walk: Uint8Array;
  walkShift: number;
  /** First walkPfns slot the walk reads through the gate (PAE's PDPTEs are loaded at CR3 load). */
  walkFrom: number;
  /** A CR3 load needs the hypervisor (PAE loads the PDPTEs through the EPT). */
  cr3Exits: boolean;
  /** Where the exits go. */
  readonly handler: EptExitHandler;
}

/**
 * The hypervisor's side of an EPT exit (an EPT violation or misconfiguration
 * for the page named), called by the hardware loop (runUnderEpt, ept-run.ts) with
 * the vCPU and the wall time of the access. Each may charge the vCPU, mark
 * pages dirty and open gates.
 */
export interface EptExitHandler {
  /** A guest page-table page the walk read, refused by its walk gate. */
  walkRefused(ptPfn: number, vcpu: number, wallNs: number): void;
  /** A store refused by its write gate (a write, a pt_write, a phys_write). */
  storeRefused(pfn: number, vcpu: number, wallNs: number): void;
  /** A load refused by its read gate. */
  loadRefused(pfn: number, vcpu: number, wallNs: number): void;
}

/** `read` gates cover 2 MiB: one EPT leaf table's worth, the unit of Xen's lazy recalculation. */
export const READ_GATE_SHIFT = 9;
