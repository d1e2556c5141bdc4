import type { MigrationOptions } from '../../reducers/migration/migration-options.js';
import type { VmSpec } from '../scenario-file.js';

/**
 * The multifd channels KubeVirt asks for: virt-handler's
 * parallelMultifdMigrationThreads (pkg/virt-handler/vm.go, "determined
 * after consulting with libvirt developers and performing extensive
 * testing").
 */
export const KUBEVIRT_MULTIFD_THREADS = 8;

/**
 * What KubeVirt asks libvirt for when it starts a VM's migration (both
 * controllers here, kubevirt.ts and kubevirt-vep248.ts):
 *
 * - bandwidthPerMigration as the migration's max speed (0: none);
 * - allowAutoConverge as VIR_MIGRATE_AUTO_CONVERGE;
 * - multifd: virt-handler's configureParallelMigrationThreads
 *   (pkg/virt-handler/migration-source.go) sets ParallelMigrationThreads to
 *   8 unless the VMI has a CPU limit ("a risk of the migration threads
 *   choking the CPU resources on the compute container") or post-copy is
 *   allowed; virt-launcher's shouldConfigureParallelMigration
 *   (live-migration-source.go) then adds VIR_MIGRATE_PARALLEL with
 *   VIR_MIGRATE_PARAM_PARALLEL_CONNECTIONS, which libvirt turns into QEMU's
 *   multifd capability and multifd-channels (qemu_migration_params.c).
 *   libvirt drives QEMU, so only a VM under the `qemu` policy gets it.
 */
export function kubevirtMigrationOptions(
  s: { readonly bandwidthPerMigration: number; readonly allowAutoConverge: boolean; readonly allowPostCopy: boolean },
  vm: VmSpec,
): Partial<MigrationOptions> {
  const multifd = vm.migration.policy === 'qemu' && vm.cpuLimit === undefined && !s.allowPostCopy;
  return {
    maxBandwidthBytesPerSec: s.bandwidthPerMigration > 0 ? s.bandwidthPerMigration : Infinity,
    autoConverge: s.allowAutoConverge,
    ...(multifd ? { multifdChannels: KUBEVIRT_MULTIFD_THREADS } : {}),
  };
}
