import { Tracker } from './tracker.js';

/**
 * A PV guest in direct mode with log-dirty off: the guest's own page tables
 * hold machine frames and the hardware walks them with no hypervisor in the
 * way (Xen's PV "direct mode", seed 002). Nothing is tracked and nothing is
 * charged: the baseline that every tracker's guest overhead is measured
 * against. Only a non-live checkpoint can migrate such a guest.
 */
export class DirectTracker extends Tracker {
  readonly name = 'direct' as const;

  protected onWrite(): void {}
  protected onClean(): void {}
  protected onEnable(): void {
    throw new Error('direct mode has no log-dirty: use shadow for a live migration of a PV guest');
  }
  protected onOff(): void {}
}
