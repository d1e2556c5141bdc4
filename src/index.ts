// The public API: everything the CLI does, as functions and types.
export { record, workloadHeader, configFromHeader } from './api/record.js';
export { DEFAULT_ENCODING } from './trace/column-codec.js';
export type { RecordOptions, RecordResult } from './api/record.js';
export { inspect } from './api/inspect.js';
export type { InspectReport } from './api/inspect.js';
export { replayVerify } from './verify/replay.js';
export type { ReplayResult, ReplayDifference } from './verify/replay.js';
export { readTrace, readGuestBatches } from './api/read.js';
export { DEFAULT_GUEST, DEFAULT_DURATION_NS, ConfigError, guestMemPages } from './model/guest-config.js';
export type { GuestOptions } from './model/guest-config.js';

export type { GuestBatch } from './events/guest-batch.js';
export { allocateGuestBatch, copyGuestBatch, GUEST_COLUMNS } from './events/guest-batch.js';
export { GuestBatchBuilder, DEFAULT_BATCH_EVENTS } from './events/guest-batch-builder.js';
export { GuestEventKind, GUEST_EVENT_KIND_NAMES, NO_VCPU } from './events/guest-event-kind.js';
export type { RunBatch } from './events/run-batch.js';
export { RunBatchBuilder } from './events/run-batch-builder.js';
export { RunEventKind, RUN_EVENT_KIND_NAMES } from './events/run-event-kind.js';

export { TraceReader } from './trace/trace-reader.js';
export type { TraceChunk, TraceReaderOptions } from './trace/trace-reader.js';
export { TraceWriter } from './trace/trace-writer.js';
export { TraceError } from './trace/trace-error.js';
// Writing files: a program that embeds migsim says who writes (its pid, how
// to tell a live one) so that stale temporaries can be removed, and removes
// its live temporaries when it must stop.
export { AtomicFile, FileReplacedError, writeFileAtomic } from './util/atomic-write.js';
export { setTemporaryOwner, removeLiveTemporaries, removeStaleTemporaries } from './util/temporary-files.js';
export type { TemporaryOwner } from './util/temporary-files.js';
export type { TraceHeader, TraceFooter, GuestSpec, WorkloadSpec } from './trace/trace-records.js';
export type { ColumnEncoding } from './trace/column-codec.js';

export { WORKLOADS, findWorkload, UnknownWorkloadError } from './workloads/registry.js';
export { workloadEvents } from './workloads/workload-events.js';
export type { WorkloadDefinition, WorkloadConfig, ParamSpec, WorkloadStats } from './workloads/workload.js';
export { deriveStream } from './random/derive-stream.js';
export { Xoshiro128 } from './random/xoshiro128.js';
export * from './model/units.js';
export * from './model/pte.js';
export * from './model/paging.js';
export { importRtdirty, importRtdirtySync, RTDIRTY_WORKLOAD } from './import/rtdirty-importer.js';
export { importLackey, importLackeySync, LACKEY_WORKLOAD } from './import/lackey-importer.js';
export { GuestVpnMap, vpnMapGeometry } from './import/guest-vpn-map.js';
export type { ImportOptions, ImportResult } from './import/import-options.js';
export { ImportError } from './import/import-error.js';
export type { CaptureStats } from './import/capture-stats.js';

// Running trackers and migrations.
export { guestSource } from './api/guest-source.js';
export type { GuestSource } from './api/guest-source.js';
export { runMigration, migrate, migrationRun, migrationOptions, summarizeMigration, tapRunBatches } from './api/run-migration.js';
export type { MigrationRunOptions, MigrationSummary } from './api/run-migration.js';
export { runRounds } from './api/run-rounds.js';
export type { RoundsOptions, RoundsSummary } from './api/run-rounds.js';
export { compareTrackers } from './api/compare.js';
export type { CompareResult, CompareFigure } from './api/compare.js';
export { recordRun, runSpec } from './api/record-run.js';
export { replayRunVerify } from './verify/replay-run.js';
export { replayImportVerify } from './verify/replay-import.js';
export { goldenCases, checkGolden, updateGolden, summaryText } from './verify/golden.js';
export { DEFAULT_COSTS, CostModelError } from './model/cost-model.js';
export { costModelWith, loadCostModel } from './model/cost-model-file.js';
export type { CostModel } from './model/cost-model.js';
export { DEFAULT_MIGRATION, POLICY_NAMES } from './reducers/migration/migration-options.js';
export type { MigrationOptions, PolicyName } from './reducers/migration/migration-options.js';
export { TRACKER_NAMES, SUPERPAGE_POLICIES, P2M_PAGE_SIZES } from './reducers/tracker.js';
export type { TrackerName, SuperpagePolicy, P2mPageSize } from './reducers/tracker.js';
export { Simulation } from './reducers/simulation.js';
export { simulate } from './reducers/simulate.js';
export type { RunSetup, RunStreamItem } from './reducers/simulate.js';
export { summarize, SummaryFold } from './reducers/summary.js';
export type { RunSummary, SummarySpec } from './reducers/summary.js';
export { isRunFinal } from './reducers/run-final.js';
export type { RunFinal } from './reducers/run-final.js';
export { Mmu } from './reducers/mmu.js';
export type { MmuOutput, MmuStats } from './reducers/mmu-output.js';
export { makeP2mMap } from './model/p2m-map.js';
