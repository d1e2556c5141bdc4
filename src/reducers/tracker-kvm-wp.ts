import { KvmTracker } from './tracker-kvm.js';
import type { TrackerName } from './tracker.js';

/**
 * KVM's dirty bitmap with write protection only (kvm-wp): what KVM does
 * without PML (AMD, or kvm_intel.pml=0). Every page logging tracks is a
 * write-protected SPTE; its first write is an EPT violation that
 * fast_page_fault fixes and marks in the slot's bitmap
 * (arch/x86/kvm/mmu/mmu.c fast_page_fault -> mark_page_dirty_in_slot); each
 * GET (or, with manual protect, each CLEAR) write-protects the pages it
 * reports again (kvm_mmu_write_protect_pt_masked). Everything else is the
 * base's (tracker-kvm.ts).
 */
export class KvmWpTracker extends KvmTracker {
  readonly name: TrackerName = 'kvm-wp';
}
