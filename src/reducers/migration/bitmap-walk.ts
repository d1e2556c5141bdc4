import type { MigrationContext } from './migration-context.js';

/**
 * The toolstack's own walk of a dirty bitmap that covers all of guest
 * memory, to find the pages to send: `syncScanPerWordNs` per 64-page word.
 *
 * - QEMU walks it at every sync (migration/ram.c migration_bitmap_sync ->
 *   ramblock_sync_dirty_bitmap -> cpu_physical_memory_sync_dirty_bitmap),
 *   the setup sync (ram_init_bitmaps) and the last one in the downtime
 *   (ram_save_complete -> migration_bitmap_sync_precopy) included.
 * - Xen's save walks every pfn of the p2m on every pass, the first
 *   (send_all_pages) and the one while suspended (suspend_and_send_dirty)
 *   included: tools/libs/guest/xg_sr_save.c send_dirty_pages loops
 *   test_bit over 0..p2m_size. It tests a bit at a time where QEMU's
 *   find_next_bit skips clear words, so the per-word cost is a lower bound
 *   for Xen's walk.
 *
 * The thread that walks sends nothing meanwhile.
 */
export function bitmapWalkNs(ctx: MigrationContext): number {
  return Math.ceil(ctx.guest.memPages / 64) * ctx.costs.syncScanPerWordNs;
}
