/**
 * Run events: what the reducers derive from guest events (DESIGN section 3).
 * They are recorded in run traces so that a replay can check itself. Codes
 * are part of the trace format: never renumber, only append.
 *
 * Column use (see RunBatch): vcpu (NO_VCPU for domain-wide events), page
 * (a pfn, or a round number for migration phases), arg (a count: pages
 * flushed, sent, rebuilt...), costNs (the stall the event caused).
 */
export const RunEventKind = {
  shadowFault: 0,
  ptEmulate: 1,
  shadowRebuild: 2,
  npfExit: 3,
  misconfigExit: 4,
  pmlFullExit: 5,
  logdirtyEnable: 6,
  peek: 7,
  clean: 8,
  final: 9,
  off: 10,
  roundStart: 11,
  pagesSent: 12,
  roundEnd: 13,
  suspend: 14,
  canonicalise: 15,
  resume: 16,
  superpageSplit: 17,
  divergence: 18,
  postcopyFault: 19,
  throttle: 20,
  checkpointEpoch: 21,
  /** Nothing happened: only carries time across a gap longer than one delta holds. */
  tick: 22,
  oosResync: 23,
  cr3Exit: 24,
  /**
   * The high 32 bits of the cost of the event just before it, in the same
   * batch (src/events/run-cost.ts): a cost the costNs column cannot hold
   * (4.29 s or more, a checkpoint's send of a large guest, say). Nothing
   * happened: readers fold it into that event.
   */
  costHigh: 25,
  /**
   * The toolstack's bitmap sync (QEMU's migration_bitmap_sync; Xen's CLEAN
   * and the walk of its bitmap that each pass of send_dirty_pages makes,
   * the first and the last included): page is the round it ends, arg the
   * dirty pages it found, costNs the time the migration thread spent in it
   * (the log-dirty op it waited for, and its own walk of the bitmap). The
   * vCPUs' share is in the op's own event.
   */
  bitmapSync: 26,
  /** KVM: a vCPU kicked out of the guest (a remote TLB flush after re-protecting, or a PML flush at a sync); arg: PML entries flushed. */
  kickExit: 27,
  /** KVM_CLEAR_DIRTY_LOG of one chunk (QEMU's clear_bmap), on the migration thread; page: the chunk's first pfn, arg: pages re-protected. */
  dirtyLogClear: 28,
  /** KVM_EXIT_DIRTY_RING_FULL: the vCPU's ring reached its soft limit; the vCPU thread reaps and resets; arg: entries collected. */
  dirtyRingFullExit: 29,
  /** QEMU's reaper collecting every ring and KVM_RESET_DIRTY_RINGS, on its own thread; arg: entries collected. */
  dirtyRingReap: 30,
  /** QEMU dirty-limit: a vCPU sleeps after a ring-full exit (dirtylimit_vcpu_execute); arg: the sleep in us. */
  dirtyLimitSleep: 31,
} as const;

export const RUN_EVENT_KIND_NAMES: readonly string[] = [
  'shadow_fault',
  'pt_emulate',
  'shadow_rebuild',
  'npf_exit',
  'misconfig_exit',
  'pml_full_exit',
  'logdirty_enable',
  'peek',
  'clean',
  'final',
  'off',
  'round_start',
  'pages_sent',
  'round_end',
  'suspend',
  'canonicalise',
  'resume',
  'superpage_split',
  'divergence',
  'postcopy_fault',
  'throttle',
  'checkpoint_epoch',
  'tick',
  'oos_resync',
  'cr3_exit',
  'cost_high',
  'bitmap_sync',
  'kick_exit',
  'dirty_log_clear',
  'dirty_ring_full_exit',
  'dirty_ring_reap',
  'dirty_limit_sleep',
];

/**
 * Kinds every trace's footer counts, whether it holds them or not: those of
 * the format's first release. Later kinds are counted only up to the last
 * one a trace holds, so a trace without them is byte for byte what the
 * earlier program wrote (the committed golden traces among them).
 */
export const RUN_EVENT_KINDS_ALWAYS_COUNTED = 25;
