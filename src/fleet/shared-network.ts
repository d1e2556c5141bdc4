import { Link } from '../reducers/migration/link.js';
import { maxMinShare } from './max-min-share.js';
import type { HostSpec, LinkSpec } from './scenario-file.js';
import type { OwnNetworkCall } from './vm-inputs.js';

/** One migration's stream over the network, from its source host to its destination. */
export interface Stream {
  readonly id: number;
  readonly vm: number;
  readonly from: number;
  readonly to: number;
  /** The constraints it crosses: source NIC out, destination NIC in, and the link between them if links are named. */
  readonly crosses: readonly number[];
  capBytesPerSec: number;
  rateBytesPerSec: number;
  /** Told of each change of this stream's share (a VM's run trace records them: vm-inputs.ts). */
  readonly listener?: ShareListener;
}

/** Hears a stream's shares: those its own calls gave it, and those other streams' calls changed. */
export interface ShareListener {
  own(call: OwnNetworkCall): void;
  share(seq: number, atNs: number, bytesPerSec: number): void;
}

/** What a VM's migration asks of the network: the fleet's shared one, or a replay's recorded shares. */
export interface StreamNetwork {
  open(vm: number, from: number, to: number, capBytesPerSec: number, atNs: number, listener?: ShareListener): Stream;
  setCap(s: Stream, capBytesPerSec: number, atNs: number): void;
  close(s: Stream, atNs: number): void;
}

/** What the network gave every constraint after a recomputation (for peak use and the report). */
export interface ShareChange {
  readonly atNs: number;
  /** Bytes per second allocated on each constraint (same order as `constraintNames`). */
  readonly usedBytesPerSec: readonly number[];
}

/**
 * The fleet's network: each host's NIC (full duplex: out and in are
 * separate constraints) and, when the scenario names links, the link
 * between two hosts; without links the hosts hang off a non-blocking
 * switch and only their NICs limit. A link's cross-traffic (`background`)
 * holds its share for good. Streams are shared max-min fairly
 * (max-min-share.ts, SimGrid's model), recomputed whenever a stream opens,
 * closes or changes its cap. A stream has no cap of its own while it
 * sends (QEMU's max-bandwidth is the policy's own budget per window, as in
 * a run) and a cap of 0 while it has nothing on the wire (QEMU waiting out
 * its rate limit, a bitmap sync): TCP leaves an idle flow's share to the
 * others.
 */
export class SharedNetwork implements StreamNetwork {
  readonly constraintNames: readonly string[];
  readonly capacityBytesPerSec: readonly number[];
  private readonly streams: Stream[] = [];
  private nextId = 0;
  /** Every call on the network, numbered: the order a replay of the shares follows. */
  private seq = 0;
  readonly changes: ShareChange[] = [];

  constructor(
    private readonly hosts: readonly HostSpec[],
    private readonly links: readonly LinkSpec[],
  ) {
    const names: string[] = [];
    const caps: number[] = [];
    for (const h of hosts) {
      names.push(`${h.name} out`, `${h.name} in`);
      caps.push(h.nicBytesPerSec, h.nicBytesPerSec);
    }
    for (const l of links) {
      names.push(l.name);
      caps.push(l.bandwidthBytesPerSec * (1 - l.background));
    }
    this.constraintNames = names;
    this.capacityBytesPerSec = caps;
  }

  /** The constraints a stream from `from` to `to` crosses; undefined when links are named and none joins them. */
  path(from: number, to: number): number[] | undefined {
    const out = [2 * from, 2 * to + 1];
    if (this.links.length === 0) return out;
    const l = this.links.findIndex((k) => (k.hosts[0] === from && k.hosts[1] === to) || (k.hosts[0] === to && k.hosts[1] === from));
    return l < 0 ? undefined : [...out, 2 * this.hosts.length + l];
  }

  open(vm: number, from: number, to: number, capBytesPerSec: number, atNs: number, listener?: ShareListener): Stream {
    const crosses = this.path(from, to);
    if (!crosses) throw new Error(`no link between hosts ${this.hosts[from]!.name} and ${this.hosts[to]!.name}`);
    const s: Stream = { id: this.nextId++, vm, from, to, crosses, capBytesPerSec, rateBytesPerSec: 0, ...(listener ? { listener } : {}) };
    this.streams.push(s);
    const seq = this.seq++;
    this.recompute(atNs, seq, s);
    s.listener?.own({ seq, atNs, call: 'open', capBytesPerSec, bytesPerSec: s.rateBytesPerSec });
    return s;
  }

  setCap(s: Stream, capBytesPerSec: number, atNs: number): void {
    const seq = this.seq++;
    if (s.capBytesPerSec !== capBytesPerSec) {
      s.capBytesPerSec = capBytesPerSec;
      if (this.streams.includes(s)) this.recompute(atNs, seq, s);
    }
    s.listener?.own({ seq, atNs, call: 'cap', capBytesPerSec, bytesPerSec: s.rateBytesPerSec });
  }

  close(s: Stream, atNs: number): void {
    const seq = this.seq++;
    const i = this.streams.indexOf(s);
    if (i >= 0) {
      this.streams.splice(i, 1);
      s.rateBytesPerSec = 0;
      this.recompute(atNs, seq, s);
    }
    s.listener?.own({ seq, atNs, call: 'close', capBytesPerSec: s.capBytesPerSec, bytesPerSec: s.rateBytesPerSec });
  }

  get openStreams(): number {
    return this.streams.length;
  }

  /** New shares for every open stream; each other stream whose share changed hears of it (the caller's own stream is told by the call). */
  private recompute(atNs: number, seq: number, by: Stream): void {
    const rates = maxMinShare({
      capacityBytesPerSec: this.capacityBytesPerSec,
      streamLinks: this.streams.map((s) => s.crosses),
      streamCapBytesPerSec: this.streams.map((s) => s.capBytesPerSec),
    });
    const used = this.capacityBytesPerSec.map(() => 0);
    this.streams.forEach((s, i) => {
      const was = s.rateBytesPerSec;
      s.rateBytesPerSec = rates[i]!;
      if (s !== by && s.rateBytesPerSec !== was) s.listener?.share(seq, atNs, s.rateBytesPerSec);
      for (const c of s.crosses) used[c] = used[c]! + rates[i]!;
    });
    const last = this.changes[this.changes.length - 1];
    if (last && last.atNs === atNs) this.changes[this.changes.length - 1] = { atNs, usedBytesPerSec: used };
    else this.changes.push({ atNs, usedBytesPerSec: used });
  }
}

/**
 * One stream's view of the network as the `Link` a migration policy is
 * handed (link.ts): a policy asks it how long bytes take, and it answers at
 * the stream's max-min share at that moment, or at the rate the policy
 * asks if that is lower. The policy's files are untouched: this is the
 * shared wire issue 13 prepared. It keeps the last transfer it timed, so
 * that its VM can re-time a transfer in flight when the share changes
 * (VmMigration.rateChanged).
 */
export class SharedLink extends Link {
  /** Transfers timed since the VM's step began, and the last one's bytes, the rate it asked for and got, and its wire time. */
  calls = 0;
  lastBytes = 0;
  lastRequestedBytesPerSec = Infinity;
  lastBytesPerSec = 0;
  lastNs = 0;

  constructor(
    private readonly stream: Stream,
    nominalBytesPerSec: number,
  ) {
    super(nominalBytesPerSec);
  }

  override wireNs(bytes: number, bytesPerSec?: number): number {
    const rate = Math.min(bytesPerSec ?? Infinity, this.stream.rateBytesPerSec);
    // A stream is never left with nothing while open (every constraint has
    // a capacity above 0), so rate > 0 here.
    const ns = Math.ceil((bytes * 1e9) / rate);
    this.calls++;
    this.lastBytes = bytes;
    this.lastRequestedBytesPerSec = bytesPerSec ?? Infinity;
    this.lastBytesPerSec = rate;
    this.lastNs = ns;
    return ns;
  }
}
