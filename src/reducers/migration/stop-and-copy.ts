import { NO_VCPU } from '../../events/guest-event-kind.js';
import { RunEventKind } from '../../events/run-event-kind.js';
import { allSet, nextSetBit, orInto } from '../bitmap-scan.js';
import { countBits } from '../logdirty-bitmap.js';
import { canonicaliseAndCheck } from '../pv-canonicalise.js';
import { bitmapWalkNs } from './bitmap-walk.js';
import type { MigrationContext } from './migration-context.js';
import type { MigrationLedger } from './migration-ledger.js';
import type { MigrationOptions } from './migration-options.js';
import { switchoverStateBytes } from './switchover-state.js';

export interface StopAndCopyOptions {
  /** Send every page, not the final CLEAN's (a checkpoint: `xm save`). */
  readonly wholeMemory?: boolean;
  /** Pages still due from the live phase, sent with the final ones (QEMU's bitmap). */
  readonly pending?: Uint32Array;
  /** For tests: skip PV canonicalisation, so the oracle must catch the broken page tables. */
  readonly skipCanonicalise?: boolean;
  /** The run's device state, when it gives one (`--device-state`). */
  readonly device?: Pick<MigrationOptions, 'deviceStateBytes'>;
  /**
   * Wall time the destination finishes loading the devices' pre-copy data
   * (VFIO's initial data); a stop before it leaves the guest waiting for
   * it on the destination (without switchover-ack, nothing holds the stop back).
   */
  readonly deviceReadyNs?: number;
}

/**
 * Stop-and-copy (DESIGN section 7): suspend, the final CLEAN, the remaining
 * pages at link speed (QEMU's ram_save_complete is not rate-limited either),
 * PV canonicalisation (xg_sr_save_x86_pv.c normalise_pagetable, and the
 * restore side's localise), vCPU and device state, resume on the
 * destination. The domain is paused from suspend to resume; the oracle
 * checks every page (and for PV every page-table entry) at that point. The
 * final op and the toolstack's walk of its bitmap are a `bitmap_sync` run
 * event and the downtime's final clean.
 * Follows xg_sr_save.c suspend_and_send_dirty. Returns the resume time.
 */
export function stopAndCopy(ctx: MigrationContext, ledger: MigrationLedger, now: number, reason: string, o: StopAndCopyOptions = {}): number {
  const { costs, clock, link, mmu } = ctx;
  const memPages = ctx.guest.memPages;
  ledger.stopReason = reason;
  ledger.suspendAtNs = now;
  if (!ledger.liveEnded) ledger.endLive(now);
  ctx.run.emit(RunEventKind.suspend, now, NO_VCPU, ledger.roundCount, 0, costs.suspendNs);
  const suspendNs = costs.suspendNs;
  let finalOpNs = 0;
  let bits: Uint32Array;
  if (o.wholeMemory) bits = allSet(memPages);
  else {
    const before = clock.domainPausedNs;
    bits = ctx.logDirty.final(now + suspendNs);
    finalOpNs = clock.domainPausedNs - before;
    if (o.pending) orInto(bits, o.pending);
  }
  const finalDirty = countBits(bits);
  // The last walk of the bitmap, with the guest stopped: QEMU's
  // ram_save_complete -> migration_bitmap_sync_precopy, Xen's
  // suspend_and_send_dirty (or send_all_pages) -> send_dirty_pages. It is
  // downtime; the summary counts it in the final clean.
  const walkNs = bitmapWalkNs(ctx);
  const finalCleanNs = finalOpNs + walkNs;
  ctx.run.emit(RunEventKind.bitmapSync, now + suspendNs, NO_VCPU, ledger.roundCount, finalDirty, finalCleanNs);
  ledger.startRound(now + suspendNs + finalCleanNs);
  let bytes = 0;
  let pages = 0;
  let ptPages = 0;
  for (let pfn = nextSetBit(bits, 0, memPages); pfn >= 0; pfn = nextSetBit(bits, pfn + 1, memPages)) {
    bytes += ledger.sendPage(pfn, true);
    pages++;
    if (mmu.tableLevel(pfn) > 0) ptPages++;
  }
  // The link's time, or QEMU's multifd threads' when they are slower.
  const finalPagesNs = ledger.pagesNs(bytes);
  let canonicaliseNs = 0;
  if (ctx.guest.type === 'pv') {
    const c = canonicaliseAndCheck(mmu, memPages, ctx.seed, o.skipCanonicalise);
    ledger.lostPtes = c.mismatches;
    // Save-side normalise and restore-side localise of each page-table
    // page sent while suspended.
    canonicaliseNs = 2 * ptPages * costs.canonicalisePerTableNs;
    ctx.run.emit(RunEventKind.canonicalise, now, NO_VCPU, c.tables, c.mismatches, canonicaliseNs);
  }
  const state = switchoverStateBytes(ctx, o.device ?? {});
  const stateBytes = state.bytes;
  const stateNs = link.wireNs(stateBytes);
  const resumeNs = costs.resumeNs;
  // The destination cannot start the guest before its devices loaded what
  // they were sent in pre-copy: the rest of that load comes after the state.
  const readyWithoutNs = now + finalCleanNs + suspendNs + finalPagesNs + canonicaliseNs + stateNs;
  const deviceLoadNs = o.deviceReadyNs === undefined ? undefined : Math.max(0, o.deviceReadyNs - readyWithoutNs);
  const rest = suspendNs + walkNs + finalPagesNs + canonicaliseNs + stateNs + (deviceLoadNs ?? 0) + resumeNs;
  // The log-dirty op paused the domain itself (domainPausedNs): the rest is added.
  clock.pauseAll(now, rest);
  const resumeAt = now + rest + finalOpNs;
  ledger.sendState(stateBytes);
  ctx.run.emit(RunEventKind.pagesSent, now + suspendNs + finalCleanNs, NO_VCPU, ledger.roundCount, pages, finalPagesNs);
  ledger.endRound(resumeAt, finalDirty);
  ledger.downtime = {
    suspendNs,
    finalCleanNs,
    finalPagesNs,
    canonicaliseNs,
    stateNs,
    resumeNs,
    ...(state.deviceStateNs !== undefined ? { deviceStateNs: state.deviceStateNs } : {}),
    ...(deviceLoadNs !== undefined ? { deviceLoadNs } : {}),
  };
  ledger.checkOracle(resumeAt);
  ledger.complete(resumeAt);
  ctx.run.emit(RunEventKind.resume, resumeAt, NO_VCPU, ledger.roundCount, 0, resumeNs);
  return resumeAt;
}
