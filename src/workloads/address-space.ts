import type { ProcessLayout } from './guest-program.js';
import { VmaTree } from './vma-tree.js';

/** VMA flags (a subset of Linux's vm_flags). */
export const VMA_WRITE = 1;
export const VMA_SHARED = 2;
export const VMA_EXEC = 4;

export { Vma } from './vma-tree.js';

/**
 * A process's address space (Linux's mm_struct, with the task's kernel
 * stack): its root table, its mappings sorted by start, where the next
 * mmap goes, and what its program image looks like.
 */
export class AddressSpace {
  /** Ordered by start, never overlapping. */
  regions = new VmaTree();
  layout: ProcessLayout | undefined;
  /** The mmap area grows down from here (mm->mmap_base, then each mapping's start). */
  mmapCursorVpn: number;
  kernelStack: number[] = [];
  constructor(
    readonly pid: number,
    /** The page-table writer's slot of the root table. */
    public rootSlot: number,
    mmapTopVpn: number,
  ) {
    this.mmapCursorVpn = mmapTopVpn;
  }
}
