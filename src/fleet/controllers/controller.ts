import type { MigrationOptions } from '../../reducers/migration/migration-options.js';
import type { HostSpec, PlannedMigration, VmSpec } from '../scenario-file.js';
import type { MigrationControl } from '../vm-migration.js';

/** A controller's decision, or a fact of the plan, in the scenario's own event stream. */
export type FleetEventKind =
  | 'requested'
  | 'queued'
  | 'budget'
  | 'started'
  | 'downtime-limit'
  | 'max-bandwidth'
  | 'postcopy'
  | 'paused'
  | 'abort'
  | 'completed'
  | 'aborted'
  | 'incomplete';

export interface FleetEvent {
  readonly atNs: number;
  readonly kind: FleetEventKind;
  readonly vm: string;
  readonly detail: string;
  /** A 'budget' event: the limits the controller holds the migration to from now on. */
  readonly budget?: FleetBudget;
}

/**
 * What a controller holds a migration to, in the units it reads them: a
 * time from the migration's start (KubeVirt's completionTimeoutPerGiB x
 * the data size, Nova's live_migration_completion_timeout per GiB), a
 * time without progress in the remaining bytes it reads (KubeVirt's
 * progressTimeout), and what it reads at what interval. The report draws
 * each VM's remaining bytes as the controller read them against it.
 */
export interface FleetBudget {
  /** The migration's time budget from its start, ns (absent: none). */
  readonly completionNs?: number;
  /** Abort after this long without the remaining bytes falling, ns (absent: none). */
  readonly progressTimeoutNs?: number;
  /** What the controller reads of the migration, and how often. */
  readonly reads: string;
}

/**
 * What an orchestrator's controller sees of the fleet and may do: the
 * VMs' specs (what the orchestrator's API object says: memory, host),
 * each migration's query-migrate figures and libvirt-like calls on it
 * (MigrationControl), starting a planned migration, and writing its
 * decisions to the scenario's event stream. Never a guest, a tracker or
 * a policy.
 */
export interface FleetHandle {
  readonly nowNs: number;
  readonly vms: readonly VmSpec[];
  readonly hosts: readonly HostSpec[];
  /** Migrations under way (started, not ended), in start order. */
  readonly running: readonly PlannedMigration[];
  control(vm: number): MigrationControl;
  /** Starts a requested migration now, with the orchestrator's options over the VM's own. */
  start(m: PlannedMigration, options: Partial<MigrationOptions>): void;
  note(kind: FleetEventKind, vm: number, detail: string): void;
  /** The controller sets (or changes) a migration's budget: a 'budget' event in the scenario's stream. */
  budget(vm: number, budget: FleetBudget, detail: string): void;
}

/**
 * An orchestrator's controller: a value that wraps the per-VM migration
 * policies (STYLE: policies as values with a narrow context). The
 * scheduler calls `request` when a plan line's time comes, `poll` at the
 * controller's next poll time, `started` when it has started a migration,
 * and `ended` when one ends.
 */
export interface Controller {
  readonly name: string;
  /** Wall time of the next poll (Infinity: none due). */
  readonly nextPollNs: number;
  request(m: PlannedMigration, fleet: FleetHandle): void;
  poll(fleet: FleetHandle): void;
  /** A migration has just started (the controller's monitor for it begins). */
  started(m: PlannedMigration, fleet: FleetHandle): void;
  ended(m: PlannedMigration, fleet: FleetHandle): void;
}

/** Thrown for a setting an orchestrator does not know or a value it refuses: the CLI names the line. */
export class ControllerSettingError extends Error {
  override readonly name = 'ControllerSettingError';
  constructor(
    readonly path: readonly (string | number)[],
    message: string,
  ) {
    super(message);
  }
}
