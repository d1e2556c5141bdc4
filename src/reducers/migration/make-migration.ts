import { CheckpointMigration } from './migration-checkpoint.js';
import type { MigrationContext } from './migration-context.js';
import type { CountingEmitter } from './migration-ledger.js';
import type { MigrationOptions, PolicyName } from './migration-options.js';
import type { MigrationPolicy } from './migration-policy.js';
import { PostcopyMigration } from './migration-postcopy.js';
import { QemuMigration } from './migration-qemu.js';
import { RemusMigration } from './migration-remus.js';
import { XenLegacyMigration } from './migration-xen-legacy.js';
import { XenMigration } from './migration-xen.js';

type PolicyClass = new (ctx: MigrationContext, opts: MigrationOptions, events: CountingEmitter) => MigrationPolicy;

/** Each policy name and the file that models it. */
const POLICIES: Record<PolicyName, PolicyClass> = {
  xen: XenMigration,
  'xen-legacy': XenLegacyMigration,
  qemu: QemuMigration,
  postcopy: PostcopyMigration,
  checkpoint: CheckpointMigration,
  remus: RemusMigration,
};

/** The policy `opts.policy` names, over one guest's context. */
export function makeMigration(ctx: MigrationContext, opts: MigrationOptions, events: CountingEmitter): MigrationPolicy {
  return new POLICIES[opts.policy](ctx, opts, events);
}
