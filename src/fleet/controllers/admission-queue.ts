import type { MigrationOptions } from '../../reducers/migration/migration-options.js';
import type { PlannedMigration } from '../scenario-file.js';
import type { FleetHandle } from './controller.js';

/**
 * Migrations wait in request order until the orchestrator's limits let
 * them start: at most `perCluster` under way in all, and `perSourceHost`
 * out of any one host (0: no limit). KubeVirt's evacuation controller
 * (parallelMigrationsPerCluster, parallelOutboundMigrationsPerNode), Nova's
 * compute manager (max_concurrent_live_migrations, a semaphore per source
 * host) and VDSM (max_outgoing_migrations) all hold a queue of this shape.
 */
export class AdmissionQueue {
  private readonly waiting: PlannedMigration[] = [];

  constructor(
    private readonly perCluster: number,
    private readonly perSourceHost: number,
    private readonly options: (m: PlannedMigration, fleet: FleetHandle) => Partial<MigrationOptions>,
  ) {}

  request(m: PlannedMigration, fleet: FleetHandle): void {
    this.waiting.push(m);
    this.admit(fleet);
    if (this.waiting.includes(m)) fleet.note('queued', m.vm, this.why(m, fleet));
  }

  /** A migration ended: its slot may start the next waiting one. */
  admit(fleet: FleetHandle): void {
    for (let i = 0; i < this.waiting.length; ) {
      const m = this.waiting[i]!;
      if (this.fits(m, fleet)) {
        this.waiting.splice(i, 1);
        fleet.start(m, this.options(m, fleet));
      } else i++;
    }
  }

  private fits(m: PlannedMigration, fleet: FleetHandle): boolean {
    if (this.perCluster > 0 && fleet.running.length >= this.perCluster) return false;
    const from = fleet.vms[m.vm]!.host;
    return !(this.perSourceHost > 0 && fleet.running.filter((r) => fleet.vms[r.vm]!.host === from).length >= this.perSourceHost);
  }

  private why(m: PlannedMigration, fleet: FleetHandle): string {
    if (this.perCluster > 0 && fleet.running.length >= this.perCluster) return `${fleet.running.length} migrations under way, the cluster's limit`;
    return `${this.perSourceHost} migrations already leave host ${fleet.hosts[fleet.vms[m.vm]!.host]!.name}, its limit`;
  }
}
