/**
 * How KVM's dirty logging is set up for a kvm-* tracker (and the QEMU knobs
 * that drive it), each default the real one:
 * - manualProtect: QEMU enables KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2 with
 *   KVM_DIRTY_LOG_MANUAL_PROTECT_ENABLE | KVM_DIRTY_LOG_INITIALLY_SET
 *   whenever the kernel offers it (accel/kvm/kvm-all.c kvm_init): on.
 * - clearBitmapShift: QEMU's clear-bitmap-shift migration property, pages
 *   per KVM_CLEAR_DIRTY_LOG chunk as a power of two (migration/options.c:
 *   DEFAULT 18, 1 GiB of 4 KiB pages; CLEAR_BITMAP_SHIFT_MIN 6, MAX 31).
 * - eagerPageSplit: KVM's x86 module parameter eager_page_split
 *   (arch/x86/kvm/mmu/mmu.c, default true).
 * - dirtyRingSize: entries per vCPU ring (QEMU's -accel kvm,dirty-ring-size;
 *   libvirt's and the KVM docs' usual 4096). A power of two up to
 *   KVM_DIRTY_RING_MAX_ENTRIES (65536); KVM refuses a ring smaller than a
 *   page or than its reserved entries (virt/kvm/kvm_main.c
 *   kvm_vm_ioctl_enable_dirty_log_ring: size in bytes, 16 per entry, below
 *   kvm_dirty_ring_get_rsvd_entries() x 16 is -EINVAL), so with PML's 512
 *   reserved entries the smallest is 1024.
 * - dirtyLimitBytesPerSec: QEMU's dirty-limit capability with
 *   vcpu-dirty-limit (migration/options.c: default 1 MB/s), 0 = off.
 */
export interface KvmOptions {
  readonly manualProtect: boolean;
  readonly clearBitmapShift: number;
  readonly eagerPageSplit: boolean;
  readonly dirtyRingSize: number;
  readonly dirtyLimitBytesPerSec: number;
}

export const DEFAULT_KVM: KvmOptions = {
  manualProtect: true,
  clearBitmapShift: 18,
  eagerPageSplit: true,
  dirtyRingSize: 4096,
  dirtyLimitBytesPerSec: 0,
};

/** KVM_DIRTY_RING_MAX_ENTRIES (include/linux/kvm_host.h). */
export const DIRTY_RING_MAX_ENTRIES = 65536;
/** The smallest ring KVM takes with PML's entries reserved (see above). */
export const DIRTY_RING_MIN_ENTRIES = 1024;
/** QEMU's CLEAR_BITMAP_SHIFT_MIN and CLEAR_BITMAP_SHIFT_MAX (migration/ram.h). */
export const CLEAR_BITMAP_SHIFT_MIN = 6;
export const CLEAR_BITMAP_SHIFT_MAX = 31;

/** Why a ring size is not one KVM takes, or undefined. */
export function dirtyRingSizeProblem(n: number): string | undefined {
  if (!Number.isInteger(n) || n < DIRTY_RING_MIN_ENTRIES || n > DIRTY_RING_MAX_ENTRIES || (n & (n - 1)) !== 0) {
    return `must be a power of two from ${DIRTY_RING_MIN_ENTRIES} to ${DIRTY_RING_MAX_ENTRIES} (KVM_DIRTY_RING_MAX_ENTRIES; below ${DIRTY_RING_MIN_ENTRIES} KVM refuses a ring no larger than its reserved entries), got ${n}`;
  }
  return undefined;
}
