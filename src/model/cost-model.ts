
/**
 * Every cost the simulator charges, in integer nanoseconds (or bytes), with
 * where each default comes from. A run trace records the model it used, and
 * `--costs FILE.json` overrides any subset of it.
 *
 * Anchors (DESIGN section 4):
 * - A VM exit round trip is on the order of 1 to 2 us; one measured on AMD
 *   took about 2,500 cycles, about 1 us, before any handling.
 * - KVM's dirty_log_perf_test totals (posted with the eager page split and
 *   TDP MMU series) work out to roughly 0.7 us per page per vCPU with D-bit
 *   logging, and 14 us for a first write that must split a huge page.
 * - A first write to a page write-protected by userfaultfd (async mode,
 *   resolved in the kernel, no exit) cost about 0.85 us on this kind of
 *   machine: the floor for any write-protect fault.
 */
export interface CostModel {
  /** VM exit and re-entry with no handling (the AMD figure, rounded). */
  readonly exitRoundTripNs: number;
  /** HAP: handling an NPF/EPT violation on a log-dirty page (mark dirty, p2m type change, flush). */
  readonly npfHandleNs: number;
  /** HAP/PML: recomputing one leaf table's types in resolve_misconfig (512 entries). */
  readonly misconfigRecalcPerTableNs: number;
  /** PML: handling one buffer entry when the buffer is flushed (paging_mark_pfn_dirty). */
  readonly pmlFlushPerEntryNs: number;
  /** HAP/PML: splitting a superpage on its first write (ept_split_super_page), beyond the NPF. */
  readonly superpageSplitNs: number;
  /** Shadow: a shadow page fault that marks a page dirty and maps it writable (sh_page_fault). */
  readonly shadowFaultNs: number;
  /** Shadow: emulating one guest page-table write (sh_x86_emulate_write + validate). */
  readonly ptEmulateNs: number;
  /** Shadow: building the shadow of one guest page-table page after it was blown. */
  readonly shadowRebuildPerTableNs: number;
  /** Log-dirty op: the hypercall and domain pause around PEEK/CLEAN (domain_pause, paging_log_dirty_op). */
  readonly logDirtyOpBaseNs: number;
  /**
   * Log-dirty op: copying (or, where no leaf was ever allocated, zeroing)
   * one 4 KiB stretch of the toolstack's bitmap (32,768 pages), and clearing
   * the leaf behind it: paging_log_dirty_op writes every stretch of the
   * toolstack's buffer, so this is paid per 32,768 pages of guest memory.
   */
  readonly cleanPerLeafNs: number;
  /**
   * The toolstack's walk of the dirty bitmap, per 64-bit word (64 pages of
   * guest memory), on top of the log-dirty op it waits for: QEMU's at every
   * sync (migration/ram.c migration_bitmap_sync, the last one in
   * ram_save_complete), Xen's at every pass (tools/libs/guest/xg_sr_save.c
   * send_dirty_pages, which tests every pfn: a lower bound there).
   * src/reducers/migration/bitmap-walk.ts.
   */
  readonly syncScanPerWordNs: number;
  /** Shadow: blowing all shadow tables on CLEAN, per shadow page freed (shadow_blow_tables). */
  readonly shadowBlowPerPageNs: number;
  /** Shadow pool pages per 4 KiB guest page-table page shadowed (Xen shadows one page per guest table on 64-bit). */
  readonly shadowPagesPerTable: number;
  /**
   * Shadow pool size in 4 KiB pages: the pages the shadows may use. Unset
   * (the default), it is what libxl's default paging pool leaves for them
   * for the guest's memory and vCPUs (src/model/shadow-pool-size.ts,
   * libxl__get_required_paging_memory); set, it overrides that.
   */
  readonly shadowPoolPages?: number;
  /** Shadow (HVM): a guest CR3 write exits (CR3-load exiting is on under shadow paging) and sh_update_cr3 runs; beyond the exit. */
  readonly shadowCr3UpdateNs: number;
  /** Shadow OOS: resynchronising one out-of-sync L1 (revalidating its 512 entries against the shadow). */
  readonly oosResyncPerPageNs: number;
  /** Migration: bytes on the wire per page sent, beyond its 4,096 bytes of data (the pfn header). */
  readonly pageHeaderBytes: number;
  /** Migration: suspending the guest (the suspend event channel round trip and the guest's own suspend path). */
  readonly suspendNs: number;
  /** PV migration: translating one page-table page mfn->pfn on save, or pfn->mfn on restore (512 entries). */
  readonly canonicalisePerTableNs: number;
  /** Migration: vCPU register state sent per vCPU at stop-and-copy. */
  readonly vcpuStateBytes: number;
  /** Migration: device and platform state (HVM context, event channels, grant tables, QEMU devices). */
  readonly deviceStateBytes: number;
  /** Migration: resuming on the destination (unpause, backend reconnection, gratuitous ARP). */
  readonly resumeNs: number;
  /** Post-copy: the request round trip for a page the destination does not have yet (beyond its transfer time). */
  readonly postcopyRequestRttNs: number;
  /** Remus: copying one dirty page into the checkpoint buffer while the guest is suspended. */
  readonly checkpointCopyPerPageNs: number;
  /** KVM: fixing a write-protected 4 KiB SPTE in fast_page_fault and marking the page dirty, beyond the exit. */
  readonly kvmWpFaultNs: number;
  /** KVM: building one page table of 512 SPTEs when a huge page is split (tdp_mmu_split_huge_page), eagerly or on a fault. */
  readonly kvmSplitPerTableNs: number;
  /** KVM: write-protecting (or clearing the D bit of) one 4 KiB SPTE at GET, CLEAR or a ring reset. */
  readonly kvmProtectPerPageNs: number;
  /** KVM: a dirty-log ioctl's fixed part (KVM_GET_DIRTY_LOG, KVM_CLEAR_DIRTY_LOG, KVM_RESET_DIRTY_RINGS). */
  readonly kvmIoctlBaseNs: number;
  /** KVM: an exit to QEMU and back (KVM_RUN returns, QEMU handles it, KVM_RUN again), beyond the exit. */
  readonly kvmUserspaceExitNs: number;
  /** QEMU: collecting one dirty-ring entry into its bitmap (kvm_dirty_ring_reap_one). */
  readonly ringReapPerEntryNs: number;
  /** QEMU multifd: the migration thread's work per page it hands to the channels (find the dirty bit, clear it, multifd_queue_page). */
  readonly multifdQueuePerPageNs: number;
  /** QEMU without multifd: the migration thread's own work per page beyond the zero check and the socket copy (find and clear the dirty bit, the page header). */
  readonly migrationPagePerPageNs: number;
  /** QEMU XBZRLE, on the migration thread: a cache hit (copy the page out, xbzrle_encode_buffer against the cached copy, copy it back into the cache). */
  readonly xbzrleHitPerPageNs: number;
  /** QEMU XBZRLE: a page copied into the cache (cache_insert on a miss, xbzrle_cache_zero_page). */
  readonly xbzrleInsertPerPageNs: number;
  /** QEMU multifd: a channel thread writing data into its TCP socket, per KiB (the kernel's copy and checksum). */
  readonly socketSendPerKiBNs: number;
  /** QEMU: buffer_is_zero over a page that is all zeros (it reads all 4 KiB). */
  readonly zeroScanZeroPageNs: number;
  /** QEMU: buffer_is_zero over a page that is not (it stops at the first non-zero bytes: a cache miss). */
  readonly zeroScanNonZeroPageNs: number;
}

export const DEFAULT_COSTS: CostModel = {
  exitRoundTripNs: 1_000,
  // Xen's hap NPF path (hvm_hap_nested_page_fault -> paging_mark_pfn_dirty,
  // p2m_change_type_one) is a few hundred ns of work on top of the exit; with
  // the exit this gives ~1.5 us a first write, between the 0.85 us
  // in-kernel userfaultfd floor and the 2 us upper end of an exit round trip.
  npfHandleNs: 500,
  // resolve_misconfig rewrites 512 EPT entries (a few ns each) and flushes:
  // an estimate, no published figure.
  misconfigRecalcPerTableNs: 1_500,
  // Per-entry work in ept_vcpu_flush_pml_buffer is a bitmap set and a p2m
  // lookup; 40 ns keeps a full 512-entry flush (~20 us) plus its exit far
  // below 512 separate exits, as PML's design intends. No published figure.
  pmlFlushPerEntryNs: 40,
  // 14 us a first write that splits (dirty_log_perf_test), less the NPF
  // already charged.
  superpageSplitNs: 12_500,
  // A shadow fault walks guest and shadow tables in Xen before fixing the
  // entry; about twice a HAP NPF. An estimate, no published figure.
  shadowFaultNs: 3_000,
  // Emulating a PT write decodes the instruction, validates the new entry
  // and updates shadows: several exits' worth. An estimate.
  ptEmulateNs: 4_000,
  // Shadowing one guest table: allocate, then propagate entries on demand. An estimate.
  shadowRebuildPerTableNs: 3_000,
  // A domctl hypercall with the domain paused: tens of us. An estimate.
  logDirtyOpBaseNs: 20_000,
  // Copy 4 KiB to the toolstack and clear it: about 1 us per leaf.
  cleanPerLeafNs: 1_000,
  // Derived, not measured: each word of the bitmap is passed over four
  // times per sync. KVM_GET_DIRTY_LOG exchanges it out of the memslot's
  // bitmap and copies it to user space (virt/kvm/kvm_main.c
  // kvm_get_dirty_log_protect); accel/kvm/kvm-all.c
  // kvm_slot_sync_dirty_pages -> cpu_physical_memory_set_dirty_lebitmap ORs
  // it into the dirty-memory clients' bitmaps; ramblock_sync_dirty_bitmap ->
  // cpu_physical_memory_sync_dirty_bitmap exchanges it into the migration
  // bitmap and counts the new bits. Four streamed 8-byte loads and stores at
  // roughly 8 GB/s are about 1 ns each: 4 ns a word, 16 us a sync of a
  // 1 GiB guest, 17 ms of a 1 TiB one.
  syncScanPerWordNs: 4,
  shadowBlowPerPageNs: 200,
  shadowPagesPerTable: 1,
  // shadowPoolPages is unset: the pool is sized per guest as libxl sizes
  // the paging pool (tools/libs/light/libxl_create.c
  // libxl__get_required_paging_memory: 256 pages a vCPU plus, for an HVM
  // shadow guest, two pages per MiB of RAM, one of them for the P2M), less
  // the P2M's own tables (src/model/shadow-pool-size.ts): 2,557 pages for a
  // 1 GiB 2-vCPU HVM guest, 8,698 for the 4 GiB one. It was a fixed 1,024
  // pages before, which a run trace recorded then still carries.
  // sh_update_cr3 looks up (or builds) the top-level shadow, pins it and
  // reloads the hardware CR3: about an exit's worth of work. An estimate.
  shadowCr3UpdateNs: 1_000,
  // sh_resync in mm/shadow/common.c revalidates the L1's entries against
  // its snapshot and updates the shadow: a pass over 512 entries plus the
  // write-protection again, ~2 us. An estimate.
  oosResyncPerPageNs: 2_000,
  // Xen's stream sends each page's pfn as a 64-bit entry of the PAGE_DATA
  // record's pfn array (xg_sr_stream_format.h); QEMU's per-page header is
  // the 8-byte offset|flags word (ram_save_page -> save_page_header).
  pageHeaderBytes: 8,
  // xl's suspend goes through the guest's suspend event channel or xenstore
  // control/shutdown and waits for the guest: about a millisecond on a
  // quiet guest. An estimate.
  suspendNs: 1_000_000,
  // normalise_pagetable in xg_sr_save_x86_pv.c translates 512 entries with
  // an m2p lookup each: a couple of us a page. An estimate.
  canonicalisePerTableNs: 2_000,
  // x86 vCPU context (struct hvm_hw_cpu plus FPU/xsave) is a few KiB.
  vcpuStateBytes: 8_192,
  // HVM platform context, device model and PV backends: a few hundred KiB
  // (QEMU's device state for a simple guest is of this order). An estimate.
  deviceStateBytes: 262_144,
  // Unpause on the destination, backends reconnect and the guest announces
  // itself on the network. Clark et al. (NSDI 2005) measured 60 ms of total
  // downtime for Quake 3, which bounds it; a few ms here. An estimate.
  resumeNs: 5_000_000,
  // A page fault forwarded to the source and answered: a LAN round trip
  // plus the userfaultfd wake-up, ~100 us. An estimate.
  postcopyRequestRttNs: 100_000,
  // memcpy of 4 KiB at about 10 GB/s, plus bookkeeping.
  checkpointCopyPerPageNs: 500,
  // KVM's fast_page_fault fixes a write-protected SPTE with one cmpxchg and
  // no mmu_lock, then mark_page_dirty_in_slot: lighter than Xen's NPF path
  // (npfHandleNs). With the exit, 1.3 us a first write: above the 0.85 us
  // in-kernel userfaultfd floor, below the 2 us upper end of an exit. An
  // estimate.
  kvmWpFaultNs: 300,
  // Derived from the eager page split commit's dirty_log_perf_test figures
  // (arch/x86/kvm/mmu/tdp_mmu.c, "KVM: x86/mmu: Split huge pages mapped by
  // the TDP MMU when dirty logging is enabled", a3fe5dbda0a4): enabling
  // dirty logging on 96 GiB of 1 GiB HugeTLB went from 0.001 s to 1.55 s,
  // splitting 96 x 513 tables (each 1 GiB page into 512 2 MiB ones, each of
  // those into 512 4 KiB ones): 1.55 s / 49,248 = 31.5 us a table. (The
  // cover letter quoted in issue 17, 0.0017 s to 1.547 s, agrees.)
  kvmSplitPerTableNs: 31_500,
  // The same figure is 61 ns per SPTE built (31.5 us / 512) including the
  // table's allocation and the walk; changing one present SPTE's W or D
  // bit in place is about half of that. Derived, rounded.
  kvmProtectPerPageNs: 30,
  // An ioctl on the VM fd: memslot lookup, mmu_lock, the bitmap's copy to
  // user space apart (cleanPerLeafNs). A few us; an estimate.
  kvmIoctlBaseNs: 5_000,
  // KVM_RUN returns to QEMU's vCPU thread, which takes the BQL, handles
  // the exit and calls KVM_RUN again: several in-kernel exits' worth. An
  // estimate.
  kvmUserspaceExitNs: 5_000,
  // QEMU reads a 16-byte kvm_dirty_gfn, sets a bit in the slot's bitmap and
  // marks the entry reset: a few cache lines. An estimate.
  ringReapPerEntryNs: 20,
  // An estimate: a find-next over the migration bitmap, a test-and-clear
  // under its mutex and an append to the packet's offset array
  // (ram_save_target_page_common -> ram_save_multifd_page ->
  // multifd_queue_page): a few cache misses.
  multifdQueuePerPageNs: 100,
  // An estimate, the same work as queueing a page for multifd without the
  // packet: ram_find_and_save_block's find-next over the bitmap,
  // migration_bitmap_clear_dirty's test-and-clear, save_page_header into
  // the QEMUFile's buffer.
  migrationPagePerPageNs: 100,
  // Measured on this machine by bench/xbzrle-cost.c (gcc -O2; thread CPU
  // time over 512 MiB of pages in shuffled order, as a pass meets them), an
  // own word-at-a-time implementation of xbzrle.c's format, as QEMU's
  // scalar xbzrle_encode_buffer is: save_xbzrle_page's hit copies the page
  // to current_buf, encodes it against the cached copy, and copies it back
  // (2.0-2.2 us with 64 bytes changed in 4 runs, 2.5 us unchanged, 2.9 us
  // with half the page changed); a miss's cache_insert copies the page in
  // (0.6-0.7 us). QEMU 7.1's AVX512 encoder (xbzrle_encode_buffer_avx512)
  // would be faster on hosts that have it.
  xbzrleHitPerPageNs: 2100,
  xbzrleInsertPerPageNs: 650,
  // An estimate between two anchors: QEMU's migration maintainer, on
  // qemu-devel (Peter Xu, January 2026): "any decent cpu should be able to
  // push closer to 10Gbps even without multifd"; and Cai et al., SIGCOMM
  // 2021 ("Understanding Host Network Stack Overheads"): one core sends a
  // TCP flow at about 42 Gbit/s with every offload on, the copy being the
  // largest cost. 325 ns a KiB is 3.2 GB/s, 25 Gbit/s, per channel thread.
  socketSendPerKiBNs: 325,
  // An estimate: 4 KiB streamed from DRAM at about 13 GB/s per core
  // (util/bufferiszero.c's vector loop is faster than memory).
  zeroScanZeroPageNs: 300,
  // An estimate: one cache miss to the page's first line, where a page in
  // use has non-zero bytes.
  zeroScanNonZeroPageNs: 100,
};

export class CostModelError extends Error {
  override readonly name = 'CostModelError';
}
