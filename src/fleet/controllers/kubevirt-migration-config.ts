import { z } from 'zod';
import { quantityBytes } from './controller-settings.js';

/**
 * The fields of KubeVirt's MigrationConfiguration that both of its
 * controllers here read (kubevirt.ts, kubevirt-vep248.ts), with the
 * defaults of pkg/virt-config/virt-config.go: how many migrations run at
 * once and how fast, and the per-GiB completion budget ...
 */
export const KUBEVIRT_QUOTAS = {
  parallelMigrationsPerCluster: z.number().int().positive().default(5),
  parallelOutboundMigrationsPerNode: z.number().int().positive().default(2),
  bandwidthPerMigration: z
    .union([z.string(), z.number()])
    .default('0Mi')
    .transform((v, ctx) => {
      const b = quantityBytes(v);
      if (b === undefined) {
        ctx.addIssue({ code: 'custom', message: `a Kubernetes quantity per second (64Mi, 1Gi; 0 for no limit), not '${v}'` });
        return z.NEVER;
      }
      return b;
    }),
  completionTimeoutPerGiB: z.number().int().nonnegative().default(150),
};

/** ... and what a migration that runs out of budget may do (auto-converge, post-copy, pausing the guest). */
export const KUBEVIRT_PERMISSIONS = {
  allowAutoConverge: z.boolean().default(false),
  allowPostCopy: z.boolean().default(false),
  allowWorkloadDisruption: z.boolean().optional(),
};
