/**
 * What the guest kernel's operations cost in guest CPU time, and the meter
 * that sums those costs for the operation in progress. Every piece of the
 * kernel (the page-table writer, the page cache, the fault handler...) adds
 * to one shared meter; the `GuestKernel` facade resets it when an
 * operation starts and reads it when the operation ends, so the vCPU is free
 * again at the operation's start time plus everything it did.
 */

/** Guest CPU time per operation, chosen from Linux figures on hardware of this kind. */
export const KERNEL_COSTS_NS = {
  /** One PTE store in copy_page_range / zap_pte_range, with its bookkeeping. */
  ptWrite: 30,
  /** Page-fault entry, VMA lookup and return (a minor fault costs 0.5-1 us). */
  fault: 800,
  /** clear_page of 4 KiB (about 16 GB/s). */
  pageZero: 250,
  /** copy_page of 4 KiB, read and write (about 8 GB/s). */
  pageCopy: 500,
  /** A context switch with a CR3 load. */
  contextSwitch: 1_500,
  /** fork's fixed part (task struct, files, signal handlers, VMAs). */
  forkBase: 30_000,
  /** exec's fixed part (open, read ELF headers, set up the stack). */
  execBase: 100_000,
  /** exit's fixed part (files, signals, reparenting, wait4 in the parent). */
  exitBase: 20_000,
  /** Reading one page from the virtual disk into the page cache (I/O wait). */
  diskReadPage: 40_000,
  /** One timer interrupt (tick_sched_timer, scheduler_tick). */
  tick: 1_000,
  /** A kernel store or load of a few bytes through the direct map. */
  kernelAccess: 20,
} as const;

/**
 * Guest CPU time the kernel operation in progress has used so far. One
 * mutable number shared by reference, rather than a cost returned from each
 * call, because the costs accrue deep inside loops (one per PTE store).
 */
export class KernelWork {
  ns = 0;
}
