/** Counters the kernel keeps (integers, reported in WorkloadStats). */
export interface KernelCounters {
  processesCreated: number;
  processesExited: number;
  forks: number;
  execs: number;
  cowCopies: number;
  cowReuses: number;
  zeroFills: number;
  pageFaults: number;
  diskReads: number;
  ptWrites: number;
  cr3Loads: number;
  tablesAllocated: number;
  tablesFreed: number;
}

/**
 * All counters at zero. The key order is the order of the workload's stats
 * in trace footers and `migsim inspect`, so it is kept as it was first
 * written.
 */
export function newKernelCounters(): KernelCounters {
  return {
    processesCreated: 0,
    processesExited: 0,
    forks: 0,
    execs: 0,
    cowCopies: 0,
    cowReuses: 0,
    zeroFills: 0,
    pageFaults: 0,
    diskReads: 0,
    ptWrites: 0,
    cr3Loads: 0,
    tablesAllocated: 0,
    tablesFreed: 0,
  };
}
