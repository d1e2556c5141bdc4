import { NO_VCPU } from '../../events/guest-event-kind.js';
import { RunEventKind } from '../../events/run-event-kind.js';
import { allSet, nextSetBit, orInto } from '../bitmap-scan.js';
import { countBits, countNewBits } from '../logdirty-bitmap.js';
import { AutoConverge } from './auto-converge.js';
import { bitmapWalkNs } from './bitmap-walk.js';
import type { MigrationContext } from './migration-context.js';
import type { CountingEmitter, ZeroPageRule } from './migration-ledger.js';
import { MigrationPolicy } from './migration-policy.js';
import { type MigrationOptions, QEMU_WINDOW_NS, XEN_BATCH_PAGES } from './migration-options.js';
import { QemuDataPath } from './qemu-data-path.js';
import { PostcopyPhase } from './postcopy-phase.js';
import { stopAndCopy } from './stop-and-copy.js';

const PAGE_BYTES = 4096;
/** Pages QEMU's migration thread sends between checks of its rate limit (a batch, as Xen's). */
const SEND_CHUNK_PAGES = XEN_BATCH_PAGES;

/**
 * The next set bit at or after `from`, else from the start of memory
 * (find_dirty_block wraps to the first RAMBlock and completes a round);
 * -1 when none is set anywhere.
 */
function nextSetBitWrapping(bits: Uint32Array, from: number, limit: number): number {
  const pfn = nextSetBit(bits, from, limit);
  return pfn >= 0 || from === 0 ? pfn : nextSetBit(bits, 0, limit);
}

/**
 * QEMU's pre-copy (migration/migration.c migration_iteration_run and
 * migration_update_counters, migration/ram.c ram_save_iterate and
 * ram_save_complete): one bitmap sync at setup, then live sending capped at
 * max-bandwidth, checked in windows of BUFFER_DELAY (100 ms) after each of
 * which the bandwidth is measured and the threshold set to bandwidth x
 * downtime-limit. Pages go in memory order from a cursor that wraps at the
 * end (ram_find_and_save_block, find_dirty_block) and is not reset by a
 * sync. Whenever the pending estimate falls to the threshold the
 * bitmap is synced (migration_bitmap_sync); if what is pending still fits
 * under it, the guest stops and the rest goes at link speed (the completion
 * is not rate-limited). Auto-converge (auto-converge.ts) is checked after
 * each sync.
 *
 * Under KVM (tracker-kvm.ts) a sync is an ioctl on this thread while the
 * vCPUs run: sending resumes once it returns (opThreadNs). With manual
 * protect QEMU keeps a clear_bmap of chunks of 2^clear-bitmap-shift pages,
 * all set at each sync (cpu_physical_memory_sync_dirty_bitmap ->
 * clear_bmap_set), and just before it sends a page whose chunk is still set
 * it clears that chunk in KVM (migration_bitmap_clear_dirty ->
 * migration_clear_memory_region_dirty_bitmap), on this thread too.
 *
 * A sync counts as new dirt only the pages its bitmap did not hold yet,
 * under every tracker: cpu_physical_memory_sync_dirty_bitmap ORs the log
 * into the migration bitmap and adds to num_dirty the bits that were clear
 * there (ctpopl(new & ~old) word by word), and that count is the round's
 * dirty pages (dirty-pages-rate) and what auto-converge compares with the
 * bytes sent (num_dirty_pages_period). A page the guest wrote again before
 * it was sent, or a GET under manual protect returning a page not cleared
 * yet, is not counted twice.
 *
 * What each page costs on the wire and in CPU (zero pages, multifd's
 * channels and compression, XBZRLE) is the data path's (qemu-data-path.ts);
 * this loop sends batches of pages and waits for each as long as it takes.
 */
export class QemuMigration extends MigrationPolicy {
  constructor(ctx: MigrationContext, opts: MigrationOptions, events: CountingEmitter) {
    super(ctx, opts, events);
    this.ledger.dataPath = new QemuDataPath(opts, this.ledger.contents, ctx.costs, ctx.oracle, ctx.writtenBytes);
  }

  /** QEMU sends a zero page as a flag in its header (ram.c save_zero_page). */
  protected override zeroPageRule(): ZeroPageRule {
    return 'flag';
  }

  private toSend: Uint32Array = new Uint32Array(0);
  /**
   * Bits set in toSend, kept as they change (ram.c's
   * rs->migration_dirty_pages: migration_bitmap_clear_dirty takes one off,
   * the sync adds the new ones): counting the bitmap at every iteration
   * cost a pass over guest memory per chunk sent, hours on a 1 TiB guest.
   */
  private pendingPages = 0;
  private cursor = 0;
  private windowStartNs = 0;
  private windowBytes = 0;
  private thresholdBytes = 0;
  private throttle: AutoConverge | undefined;
  /** QEMU's clear_bmap (manual protect only): per chunk, 1 while KVM still has to clear it. */
  private clearPending: Uint8Array | undefined;
  private clearShift = 0;
  private postcopyRequested = false;

  /**
   * migrate-start-postcopy (migration.c qmp_migrate_start_postcopy): sets
   * start_postcopy, and the migration thread switches at its next
   * iteration (migration_iteration_run calls postcopy_start). What a
   * controller does when a migration will not converge (KubeVirt with
   * allowPostCopy, Nova's force_complete with post-copy permitted).
   */
  startPostcopy(): void {
    this.postcopyRequested = true;
  }

  protected begin(now: number): void {
    // ram_save_setup syncs the bitmap once (ram_init_bitmaps ->
    // migration_bitmap_sync_precopy): ENABLE, then the thread's pass over
    // the bitmap; setup-time covers both.
    const enabledNs = this.enableLogDirty(now);
    const scanNs = this.scanNs();
    this.ledger.setupNs += scanNs;
    this.windowStartNs = enabledNs + scanNs;
    this.ctx.run.emit(RunEventKind.bitmapSync, now, NO_VCPU, 0, 0, this.windowStartNs - now);
    this.toSend = allSet(this.ctx.guest.memPages);
    this.pendingPages = countBits(this.toSend);
    this.cursor = 0;
    const shift = this.ctx.logDirty.clearChunkShift;
    if (shift !== undefined) {
      this.clearShift = shift;
      // The setup sync sets every chunk (ram_init_bitmaps -> migration_bitmap_sync_precopy).
      this.clearPending = new Uint8Array(Math.ceil(this.ctx.guest.memPages / 2 ** shift)).fill(1);
    }
    this.sendDevicePrecopy();
    if (this.opts.autoConverge) this.throttle = new AutoConverge(this.ctx, this.opts, this.windowStartNs);
    else if (this.ctx.logDirty.dirtyLimitConfigured) this.throttle = new AutoConverge(this.ctx, this.opts, this.windowStartNs, (now) => this.ctx.logDirty.startDirtyLimit(now));
    this.ledger.startRound(this.windowStartNs);
    this.schedule(this.ramStartNs, () => this.send());
  }

  /** Wall time the live sending of RAM starts (after any device pre-copy data). */
  private ramStartNs = 0;
  /** When the destination has loaded the devices' pre-copy data (-1: none sent), and when its switchover ACK reaches the source. */
  private deviceReadyNs = -1;
  private switchoverAckNs = 0;

  /**
   * Devices' pre-copy data (VFIO's initial data: hw/vfio/migration.c
   * vfio_save_iterate sends it first, precopy_init_size), on the main
   * stream within max-bandwidth, ahead of RAM; the destination then loads
   * it (`deviceLoadNs`). With switchover-ack (QEMU 8.1) the destination
   * approves the switch-over once every device that asked for it has
   * loaded its initial data (savevm.c qemu_loadvm_approve_switchover ->
   * MIG_RP_MSG_SWITCHOVER_ACK on the return path), at once if none has
   * any; until the ACK arrives the source does not stop
   * (migration.c migration_can_switchover).
   */
  private sendDevicePrecopy(): void {
    const start = this.windowStartNs;
    this.ramStartNs = start;
    const bytes = this.opts.devicePrecopyBytes ?? 0;
    const returnNs = this.ctx.costs.postcopyRequestRttNs - Math.floor(this.ctx.costs.postcopyRequestRttNs / 2);
    if (bytes > 0) {
      const rate = Math.min(this.opts.maxBandwidthBytesPerSec, this.ctx.link.bandwidthBytesPerSec);
      const wireNs = this.ctx.link.wireNs(bytes, rate);
      this.ledger.sendState(bytes);
      this.windowBytes += bytes;
      this.throttle?.sent(bytes);
      this.ramStartNs = start + wireNs;
      this.deviceReadyNs = this.ramStartNs + (this.opts.deviceLoadNs ?? 0);
      this.switchoverAckNs = this.deviceReadyNs + returnNs;
    } else {
      this.switchoverAckNs = start + this.ctx.costs.postcopyRequestRttNs;
    }
  }

  /** migration_can_switchover: without switchover-ack always; with it, once the destination's ACK is in. */
  private canSwitchover(now: number): boolean {
    return !this.opts.switchoverAck || now >= this.switchoverAckNs;
  }

  /** One chunk of live sending, within the current window's budget. */
  private send(): void {
    const now = this.nextActionNs;
    const memPages = this.ctx.guest.memPages;
    if (now >= this.windowStartNs + QEMU_WINDOW_NS) this.closeWindow(now);
    const budget = Math.floor((this.opts.maxBandwidthBytesPerSec * QEMU_WINDOW_NS) / 1e9) - this.windowBytes;
    let pages = 0;
    let bytes = 0;
    let pfn = this.cursor;
    const clearPending = this.clearPending;
    let clearNs = 0;
    const dataPath = this.ledger.dataPath!;
    while (pages < SEND_CHUNK_PAGES && bytes < budget) {
      const from = pfn;
      pfn = nextSetBitWrapping(this.toSend, pfn, memPages);
      if (pfn < 0) break;
      // find_dirty_block wrapped to the start of memory: a round is complete (XBZRLE starts after the first).
      if (pfn < from) dataPath.roundCompleted();
      this.toSend[pfn >>> 5] = this.toSend[pfn >>> 5]! & ~(1 << (pfn & 31));
      this.pendingPages--;
      if (clearPending !== undefined) {
        const chunk = Math.floor(pfn / 2 ** this.clearShift);
        if (clearPending[chunk] === 1) {
          // migration_clear_memory_region_dirty_bitmap: KVM clears the chunk before its first page goes.
          clearPending[chunk] = 0;
          clearNs += this.ctx.logDirty.clearChunk(chunk * 2 ** this.clearShift, now + clearNs);
        }
      }
      bytes += this.ledger.sendPage(pfn);
      pages++;
      pfn++;
    }
    if (pfn >= memPages) dataPath.roundCompleted();
    if (pfn >= 0) this.cursor = pfn < memPages ? pfn : 0;
    if (pages > 0) {
      this.windowBytes += bytes;
      this.throttle?.sent(bytes);
      const durationNs = this.ledger.transmit(now + clearNs, pages, bytes);
      this.schedule(now + clearNs + durationNs, () => this.iterate());
      return;
    }
    if (bytes >= budget || budget <= 0) {
      // Rate-limited: wait for the next window (migration_rate_exceeded).
      this.schedule(this.windowStartNs + QEMU_WINDOW_NS, () => this.send());
      return;
    }
    this.iterate();
  }

  /** migration_iteration_run: compare the pending estimate with the threshold, sync, maybe switch over. */
  private iterate(): void {
    const now = this.nextActionNs;
    if (this.postcopyRequested && this.canSwitchover(now)) {
      this.switchToPostcopy(now);
      return;
    }
    if (now >= this.windowStartNs + QEMU_WINDOW_NS) this.closeWindow(now);
    const pendingBytes = this.pendingPages * PAGE_BYTES;
    if (pendingBytes <= this.thresholdBytes || pendingBytes === 0) {
      const bits = this.syncBitmap(now);
      this.schedule(this.nextActionNs, () => this.afterSync(bits));
      return;
    }
    this.schedule(now, () => this.send());
  }

  /**
   * migration_bitmap_sync: the migration thread asks the hypervisor for the
   * dirty log (KVM_GET_DIRTY_LOG per memslot in accel/kvm/kvm-all.c
   * kvm_physical_sync_dirty_bitmap; here the tracker's CLEAN, which charges
   * the vCPUs their own share) and waits for it, then passes over the bitmap
   * itself (ramblock_sync_dirty_bitmap -> cpu_physical_memory_sync_dirty_bitmap).
   * Both take time proportional to guest memory, and the thread sends
   * nothing meanwhile: a sync is a `bitmap_sync` run event with that time as
   * its cost, and the thread's next step comes after it (nextActionNs), so
   * syncs never come faster than one per sync's cost, however small the
   * threshold.
   */
  private syncBitmap(now: number): Uint32Array {
    const clock = this.ctx.clock;
    const pausedBefore = clock.domainPausedNs;
    const bits = this.ctx.logDirty.clean(now);
    // Xen's CLEAN pauses the domain; KVM's ioctls run on this thread beside the vCPUs (opThreadNs).
    const opNs = clock.domainPausedNs - pausedBefore + this.ctx.logDirty.opThreadNs;
    const costNs = opNs + this.scanNs();
    this.ctx.run.emit(RunEventKind.bitmapSync, now, NO_VCPU, this.ledger.roundCount, countBits(bits), costNs);
    this.nextActionNs = now + costNs;
    return bits;
  }

  /** The migration thread's own pass over the bitmap: one per 64-page word of guest memory. */
  private scanNs(): number {
    return bitmapWalkNs(this.ctx);
  }

  /** The sync is over: its dirty pages join what is pending; switch over if that fits the threshold. */
  private afterSync(bits: Uint32Array): void {
    const now = this.nextActionNs;
    // Only bits new to the migration bitmap are new dirt (num_dirty): a page
    // still pending (written again before it went, or, under manual protect,
    // still dirty in KVM's log because its chunk was not cleared) is not.
    const dirty = countNewBits(bits, this.toSend);
    this.clearPending?.fill(1);
    this.ledger.dataPath!.synced();
    this.throttle?.dirtied(dirty);
    // The send cursor survives the sync: ram_find_and_save_block resumes
    // from last_seen_block/last_page, not from the start of memory.
    orInto(this.toSend, bits);
    this.pendingPages += dirty;
    this.ledger.endRound(now, dirty);
    this.throttle?.check(now);
    if (now >= this.windowStartNs + QEMU_WINDOW_NS) this.closeWindow(now);
    const pendingBytes = this.pendingPages * PAGE_BYTES;
    if (pendingBytes === 0 && this.thresholdBytes === 0) {
      // Nothing to send and no bandwidth measured yet: let the window
      // close so that the threshold exists, as time would in QEMU.
      this.ledger.startRound(now);
      this.schedule(Math.max(now, this.windowStartNs + QEMU_WINDOW_NS), () => this.iterate());
      return;
    }
    if (pendingBytes < this.thresholdBytes && !this.canSwitchover(now)) {
      // Under the threshold, but the destination has not acknowledged yet: go on iterating.
      this.ledger.startRound(now);
      this.schedule(pendingBytes > 0 ? now : Math.max(now, this.switchoverAckNs), () => this.send());
      return;
    }
    if (pendingBytes < this.thresholdBytes) {
      const reason = `remaining ${pendingBytes} bytes fit the downtime limit at ${this.opts.availSwitchoverBandwidthBytesPerSec ? 'avail-switchover-bandwidth' : 'the measured bandwidth'} (threshold ${Math.round(this.thresholdBytes)} bytes)`;
      // ram_save_complete syncs once more and sends what is still pending too.
      const resumeAt = stopAndCopy(this.ctx, this.ledger, now, reason, {
        pending: this.toSend,
        skipCanonicalise: this.opts.skipCanonicalise,
        device: this.opts,
        ...(this.deviceReadyNs >= 0 ? { deviceReadyNs: this.deviceReadyNs } : {}),
      });
      // migration_iteration_finish: cpu_throttle_stop once the migration is over.
      this.ctx.clock.setThrottle(0, resumeAt);
      this.ctx.host.resumeOnDestination();
      this.done();
      return;
    }
    this.ledger.startRound(now);
    this.schedule(now, () => this.send());
  }

  /** postcopy_start: what is still to send (the bitmap) and what the final CLEAN finds are missing on the destination. */
  private switchToPostcopy(now: number): void {
    const { phase, resumeAt } = PostcopyPhase.switchOver(this.ctx, this.ledger, this.opts, now, 'switched to post-copy on request (migrate-start-postcopy)', this.toSend);
    this.ctx.clock.setThrottle(0, resumeAt);
    this.runPostcopy(phase, resumeAt);
  }

  /** migration_update_counters: bandwidth over the window (or avail-switchover-bandwidth), threshold = bandwidth x downtime-limit. */
  private closeWindow(now: number): void {
    const elapsedNs = now - this.windowStartNs;
    if (elapsedNs > 0) {
      // avail-switchover-bandwidth (QEMU 8.2): the user's figure for the
      // switch-over, trusted over the measured one when set.
      const avail = this.opts.availSwitchoverBandwidthBytesPerSec;
      const bytesPerNs = avail !== undefined && avail > 0 ? avail / 1e9 : this.windowBytes / elapsedNs;
      this.thresholdBytes = bytesPerNs * this.opts.downtimeLimitNs;
    }
    this.windowStartNs = now;
    this.windowBytes = 0;
  }
}
