import type { MigrationOptions } from '../reducers/migration/migration-options.js';

/**
 * What reaches one VM of a fleet from outside its own run: the
 * orchestrator's calls on its migration (libvirt's virDomainMigrate*,
 * virDomainAbortJob, virDomainSuspend) and the max-min share of the
 * network its stream gets as other streams come and go. Everything else a
 * VM's run does follows from its guest events and its reducers, so a VM's
 * run trace with these inputs in its footer replays alone
 * (src/verify/replay-fleet-vm.ts), without the other VMs or the controller.
 *
 * `step` places an input between the VM's own steps (its driver's
 * actions): it came after `step` of them and before the next, whatever the
 * wall times (several things can happen at one nanosecond, and the fleet's
 * tie rule orders them). `atNs` is the fleet's wall time when it came.
 */
export type VmInput =
  | { readonly op: 'start'; readonly step: number; readonly atNs: number; readonly from: number; readonly to: number; readonly options: MigrationOptions }
  /** Another stream opened, closed, went idle or sent again: this VM's stream now gets `bytesPerSec`; `seq` is the network's recomputation. */
  | { readonly op: 'share'; readonly step: number; readonly atNs: number; readonly seq: number; readonly bytesPerSec: number }
  | { readonly op: 'downtime-limit'; readonly step: number; readonly atNs: number; readonly ns: number }
  | { readonly op: 'max-bandwidth'; readonly step: number; readonly atNs: number; readonly bytesPerSec: number }
  | { readonly op: 'postcopy'; readonly step: number; readonly atNs: number; readonly reason: string }
  | { readonly op: 'pause'; readonly step: number; readonly atNs: number; readonly pauseAtNs: number; readonly reason: string }
  | { readonly op: 'abort'; readonly step: number; readonly atNs: number; readonly reason: string }
  /** The controller read the query-migrate figures (what it read is the VM's: a replay reads them again). */
  | { readonly op: 'read'; readonly step: number; readonly atNs: number };

/**
 * The VM's own calls on the network (its stream opened, its cap changed,
 * closed) and the share its stream got from each, in call order: a replay
 * hands them back to the same calls. `seq` orders every recomputation of
 * the fleet's network, so the shares of all VMs can be solved again from
 * their traces (src/verify/replay-fleet.ts).
 */
export interface OwnNetworkCall {
  readonly seq: number;
  readonly atNs: number;
  readonly call: 'open' | 'cap' | 'close';
  readonly capBytesPerSec: number;
  readonly bytesPerSec: number;
}

/** How a VM's migration ended in the fleet (what fleet.json says of it beyond its summary). */
export interface VmEnd {
  readonly outcome: string;
  readonly reason: string;
  readonly startedAtNs: number;
  readonly endedAtNs: number;
  readonly pausedAtNs: number;
  readonly postcopyAtNs: number;
}

/** A fleet VM's record of its run: its steps, its inputs and its own network calls (a run trace's footer.run.fleet). */
export interface VmInputLog {
  steps: number;
  readonly inputs: VmInput[];
  readonly own: OwnNetworkCall[];
}

export function emptyInputLog(): VmInputLog {
  return { steps: 0, inputs: [], own: [] };
}
