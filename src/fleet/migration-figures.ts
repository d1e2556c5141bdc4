import { RunEventKind } from '../events/run-event-kind.js';
import type { LogDirtyHandle, RunEmitter } from '../reducers/migration/migration-context.js';
import type { PageOracle, SendWatch } from '../reducers/page-oracle.js';

const PAGE_BYTES = 4096;

/** The phases query-migrate reports (qapi/migration.json MigrationStatus), as far as a fleet tells them apart. */
export type MigrationStatus = 'queued' | 'active' | 'device' | 'postcopy-active' | 'completed' | 'cancelled' | 'incomplete';

/**
 * What an orchestrator's controller reads of one migration: the figures of
 * QEMU's query-migrate (libvirt's virDomainGetJobStats: dataRemaining,
 * dataProcessed, memory iteration, downtime), as of the migration
 * thread's last step. Nothing else of the guest or the policy.
 */
export interface MigrationFigures {
  readonly status: MigrationStatus;
  /** Wall time the migration started (-1: not yet). */
  readonly startedAtNs: number;
  /** Wall time these figures were last updated (the migration thread's last step). */
  readonly updatedAtNs: number;
  /** ram remaining: pages still marked to send, times the page size (ram_bytes_remaining). */
  readonly remainingBytes: number;
  /** ram transferred: bytes on the wire so far. */
  readonly transferredBytes: number;
  /** dirty-sync-count: bitmap syncs so far (the memory iteration). */
  readonly dirtySyncCount: number;
  readonly memTotalBytes: number;
  /** The last bitmap sync (libvirt's migration-iteration event): when, and what remained right after it (-1: none yet). */
  readonly lastSyncAtNs: number;
  readonly lastSyncRemainingBytes: number;
}

/**
 * Keeps a migration's query-migrate figures from what its policy does
 * through its context, without reaching into the policy: the log-dirty
 * handle (ENABLE marks every page to send, each CLEAN adds its dirty
 * pages, as migration_bitmap_sync ORs them into QEMU's bitmap), the
 * oracle's `send` (a page sent leaves the bitmap) and the run events
 * (bytes on the wire, suspend, resume). For QEMU's policy the count is its
 * bitmap exactly; for Xen's, the pages of the pass still unsent plus those
 * dirtied by the last CLEAN.
 */
export class MigrationFiguresKeeper implements SendWatch {
  private pending: Uint32Array;
  private pendingCount = 0;
  private transferred = 0;
  private syncs = 0;
  private lastSyncAtNs = -1;
  private lastSyncRemaining = 0;
  status: MigrationStatus = 'queued';
  startedAtNs = -1;
  updatedAtNs = 0;

  constructor(
    private readonly memPages: number,
    private readonly pageWireBytes: number,
  ) {
    this.pending = new Uint32Array(Math.ceil(memPages / 32));
  }

  figures(): MigrationFigures {
    return {
      status: this.status,
      startedAtNs: this.startedAtNs,
      updatedAtNs: this.updatedAtNs,
      remainingBytes: this.pendingCount * PAGE_BYTES,
      transferredBytes: this.transferred,
      dirtySyncCount: this.syncs,
      memTotalBytes: this.memPages * PAGE_BYTES,
      lastSyncAtNs: this.lastSyncAtNs,
      lastSyncRemainingBytes: this.lastSyncRemaining,
    };
  }

  /** The log-dirty handle the policy is given: the tracker's, watched. */
  logDirty(inner: LogDirtyHandle): LogDirtyHandle {
    return {
      enable: (wallNs) => {
        this.pending.fill(0xffffffff);
        const tail = this.memPages & 31;
        if (tail !== 0) this.pending[this.pending.length - 1] = (1 << tail) - 1;
        this.pendingCount = this.memPages;
        this.syncs = 1;
        inner.enable(wallNs);
      },
      peek: (wallNs) => inner.peek(wallNs),
      clean: (wallNs) => {
        const bits = inner.clean(wallNs);
        this.merge(bits);
        this.syncs++;
        this.lastSyncAtNs = wallNs;
        this.lastSyncRemaining = this.pendingCount * PAGE_BYTES;
        return bits;
      },
      final: (wallNs) => inner.final(wallNs),
      // KVM's: passed through (getters, as the tracker's values change with each operation).
      get opThreadNs() {
        return inner.opThreadNs;
      },
      get clearChunkShift() {
        return inner.clearChunkShift;
      },
      clearChunk: (firstPfn, wallNs) => inner.clearChunk(firstPfn, wallNs),
      get dirtyLimitConfigured() {
        return inner.dirtyLimitConfigured;
      },
      startDirtyLimit: (wallNs) => inner.startDirtyLimit(wallNs),
    };
  }

  /** The oracle the policy is given: the simulation's own, its `send` watched (SendWatch). */
  oracle(inner: PageOracle): PageOracle {
    inner.sendWatch = this;
    return inner;
  }

  /** SendWatch: a page sent leaves the bitmap. */
  sent(pfn: number): void {
    const w = pfn >>> 5;
    const bit = 1 << (pfn & 31);
    const pending = this.pending;
    if ((pending[w]! & bit) !== 0) {
      pending[w] = pending[w]! & ~bit;
      this.pendingCount--;
    }
  }

  /** The run emitter the policy is given: the simulation's, watched for bytes on the wire and the phases. */
  emitter(inner: RunEmitter, onSuspend: () => void): RunEmitter {
    return {
      emit: (kind, wallNs, vcpu, page, arg, costNs) => {
        if (kind === RunEventKind.pagesSent) this.transferred += arg * this.pageWireBytes;
        else if (kind === RunEventKind.suspend) {
          this.status = 'device';
          onSuspend();
        } else if (kind === RunEventKind.resume && this.status === 'device') this.status = 'postcopy-active';
        inner.emit(kind, wallNs, vcpu, page, arg, costNs);
      },
    };
  }

  private merge(bits: Uint32Array): void {
    const p = this.pending;
    let added = 0;
    for (let w = 0; w < p.length; w++) {
      const fresh = bits[w]! & ~p[w]!;
      if (fresh !== 0) {
        p[w] = p[w]! | fresh;
        added += popcount(fresh);
      }
    }
    this.pendingCount += added;
  }
}

function popcount(x: number): number {
  x = x - ((x >>> 1) & 0x55555555);
  x = (x & 0x33333333) + ((x >>> 2) & 0x33333333);
  return (((x + (x >>> 4)) & 0x0f0f0f0f) * 0x01010101) >>> 24;
}
