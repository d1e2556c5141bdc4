import type { MigrationContext } from './migration-context.js';
import type { MigrationOptions } from './migration-options.js';

/**
 * What moves while the guest is stopped besides memory: every vCPU's state
 * and the devices' (QEMU's non-iterable vmstate and the iterable devices'
 * stop-copy data: qemu_savevm_state_complete_precopy; Xen's context
 * records). The device state is the cost model's deviceStateBytes unless
 * the run gives its own (`--device-state`, a VFIO device's stop-copy size
 * say); then the summary's downtime also says what its transfer took.
 */
export function switchoverStateBytes(ctx: MigrationContext, opts: Pick<MigrationOptions, 'deviceStateBytes'>): { bytes: number; deviceStateNs?: number } {
  const device = opts.deviceStateBytes ?? ctx.costs.deviceStateBytes;
  const bytes = ctx.guest.vcpus * ctx.costs.vcpuStateBytes + device;
  return opts.deviceStateBytes === undefined ? { bytes } : { bytes, deviceStateNs: ctx.link.wireNs(device) };
}
