import type { CostModel } from '../../model/cost-model.js';
import type { Mmu } from '../mmu.js';
import type { PageOracle } from '../page-oracle.js';
import type { TrackerGuest } from '../tracker.js';
import type { PostcopyFetcher, PostcopyTracker } from '../tracker-postcopy.js';
import type { VcpuClock } from '../vcpu-clock.js';
import type { Link } from './link.js';

/**
 * The toolstack's handle on the hypervisor's log-dirty interface (Xen's
 * paging_log_dirty_op, DESIGN section 6): what a policy may ask of the
 * tracker, and nothing else.
 */
export interface LogDirtyHandle {
  enable(wallNs: number): void;
  peek(wallNs: number): Uint32Array;
  clean(wallNs: number): Uint32Array;
  final(wallNs: number): Uint32Array;
  /**
   * Time the last operation took on the toolstack's thread without pausing
   * the domain (KVM's ioctls run beside the vCPUs): the toolstack goes on
   * only once it is over. Xen's domctls pause the domain instead: 0.
   */
  readonly opThreadNs: number;
  /** KVM with manual protect: pages per KVM_CLEAR_DIRTY_LOG chunk as a power of two; undefined when CLEAN re-arms tracking itself. */
  readonly clearChunkShift: number | undefined;
  /** KVM_CLEAR_DIRTY_LOG of the chunk from `firstPfn` (clearChunkShift set): returns the thread's time. */
  clearChunk(firstPfn: number, wallNs: number): number;
  /** QEMU's dirty-limit capability is on (KVM's dirty ring with a vcpu-dirty-limit). */
  readonly dirtyLimitConfigured: boolean;
  /** migration_dirty_limit_guest: every vCPU under the quota from now on. */
  startDirtyLimit(wallNs: number): void;
}

/** Emits one run event (RunBatchBuilder.emit's signature). */
export interface RunEmitter {
  emit(kind: number, wallNs: number, vcpu: number, page: number, arg: number, costNs: number): void;
}

/**
 * Where the guest runs. Resuming on the destination hands its accesses to
 * another hypervisor; the simulation that hosts the guest decides what that
 * means, the policy only says when.
 */
export interface GuestHost {
  /** The guest resumed on the destination with every page there. */
  resumeOnDestination(): void;
  /** The guest resumed on the destination with `missing` pages still on the source (post-copy), fetched from `source` a host page of `hostPagePages` at a time. */
  resumeForPostcopy(missing: Uint32Array, source: PostcopyFetcher, hostPagePages: number): PostcopyTracker;
}

/**
 * What a migration policy sees of the world (STYLE: policies as values with
 * a narrow context): the guest's shape and costs, the link, the log-dirty
 * handle, the vCPU clock (pauses and throttle), the run-event emitter, the
 * guest's page state (oracle versions, page tables for PV canonicalisation)
 * and where the guest runs. Never the Simulation: a second guest or an
 * orchestrator's controller builds a context of its own.
 */
export interface MigrationContext {
  readonly guest: TrackerGuest;
  /** The run's seed: the destination's PV p2m map derives from it. */
  readonly seed: number;
  readonly costs: CostModel;
  readonly link: Link;
  readonly logDirty: LogDirtyHandle;
  readonly clock: VcpuClock;
  readonly run: RunEmitter;
  readonly oracle: PageOracle;
  /** Read only: which pages are page tables, and the PV tables to canonicalise. */
  readonly mmu: Mmu;
  readonly host: GuestHost;
  /** Bytes stored into each page since it was last sent, when the run counts them (XBZRLE: src/reducers/write-bytes.ts); the ledger zeroes a page's count when it sends it. */
  readonly writtenBytes?: Uint16Array;
}
