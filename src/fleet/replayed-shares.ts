import type { ShareListener, Stream, StreamNetwork } from './shared-network.js';
import type { OwnNetworkCall } from './vm-inputs.js';

/** A replayed VM called the network otherwise than its recording did: its run has left the record. */
export class ReplayLeftRecord extends Error {
  override readonly name = 'ReplayLeftRecord';
}

/**
 * The network as one VM's replay sees it: no other stream, only the shares
 * the fleet gave this VM's stream, handed back to the same calls in the
 * same order (each checked against the recorded call: its kind, time and
 * cap). Shares that other streams' calls changed come in as inputs
 * (VmMigration.replayShare), between the same steps as in the fleet.
 */
export class ReplayedShares implements StreamNetwork {
  private next = 0;

  constructor(private readonly calls: readonly OwnNetworkCall[]) {}

  /** Recorded calls the replay has not made (0 when it made them all). */
  get unused(): number {
    return this.calls.length - this.next;
  }

  open(vm: number, from: number, to: number, capBytesPerSec: number, atNs: number, listener?: ShareListener): Stream {
    const s: Stream = { id: 0, vm, from, to, crosses: [], capBytesPerSec, rateBytesPerSec: 0, ...(listener ? { listener } : {}) };
    this.take(s, 'open', capBytesPerSec, atNs);
    return s;
  }

  setCap(s: Stream, capBytesPerSec: number, atNs: number): void {
    s.capBytesPerSec = capBytesPerSec;
    this.take(s, 'cap', capBytesPerSec, atNs);
  }

  close(s: Stream, atNs: number): void {
    this.take(s, 'close', s.capBytesPerSec, atNs);
  }

  private take(s: Stream, call: OwnNetworkCall['call'], capBytesPerSec: number, atNs: number): void {
    const c = this.calls[this.next];
    if (!c || c.call !== call || c.atNs !== atNs || c.capBytesPerSec !== capBytesPerSec) {
      const got = `${call} at ${atNs} ns, cap ${capBytesPerSec} B/s`;
      throw new ReplayLeftRecord(c ? `network call ${this.next}: recorded ${c.call} at ${c.atNs} ns, cap ${c.capBytesPerSec} B/s; replayed ${got}` : `network call ${this.next}: none recorded; replayed ${got}`);
    }
    this.next++;
    s.rateBytesPerSec = c.bytesPerSec;
    s.listener?.own(c);
  }
}
