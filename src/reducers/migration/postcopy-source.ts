import { NO_VCPU } from '../../events/guest-event-kind.js';
import { RunEventKind } from '../../events/run-event-kind.js';
import { nextSetBit } from '../bitmap-scan.js';
import type { PostcopyFetcher } from '../tracker-postcopy.js';
import type { MigrationContext } from './migration-context.js';
import type { MigrationLedger } from './migration-ledger.js';
import { XEN_BATCH_PAGES } from './migration-options.js';

/** How the source serves post-copy: QEMU's capabilities and parameters that shape it. */
export interface PostcopySourceOptions {
  /** postcopy-preempt (QEMU 8.0): requested pages go on a channel of their own. */
  readonly preempt: boolean;
  /** max-postcopy-bandwidth: the background stream's cap after the switch (undefined: none, QEMU's default 0). */
  readonly maxBandwidthBytesPerSec: number | undefined;
  /** 4 KiB pages per host page of guest RAM (1; 512 for 2 MiB, 262,144 for 1 GiB hugetlbfs). */
  readonly hostPagePages: number;
  /** For tests: pages (the lowest missing ones) the source forgets to send. */
  readonly forgetPages?: number;
}

/** What fetch returns for a page no one will send. */
export const NEVER = -1;

/**
 * The source during post-copy (QEMU's migration/ram.c after postcopy_start,
 * docs/devel/migration/postcopy.rst): its bitmap of pages still to send,
 * the background pass that walks it, and the wire the pages take.
 *
 * - The background pass sends pages in memory order from a cursor that
 *   wraps (ram_find_and_save_block, find_dirty_block), a batch at a time;
 *   the batch's bytes are what the main channel holds in flight (about a
 *   socket send buffer: 1024 pages is 4 MiB, Linux's default tcp_wmem
 *   maximum), and they arrive at link speed.
 * - A fault on the destination sends a page request on the return path
 *   (postcopy_request_page -> migrate_send_rp_req_pages, half a round trip).
 *   Without preempt the source queues it (ram_save_queue_pages) and the
 *   migration thread serves it before the next background page
 *   (get_queued_page), behind the bytes already queued on the main channel:
 *   the page waits for the batch in flight. get_queued_page then moves the
 *   pass's cursor to the requested page (pss->page, and last_seen_block /
 *   last_page at the end of ram_find_and_save_block), so the background
 *   continues after it, "in the hope that those pages are likely to be used
 *   by the destination soon" (postcopy.rst).
 * - With postcopy-preempt the return-path thread sends the page itself on
 *   the preempt channel (ram_save_queue_pages -> ram_save_host_page_urgent
 *   with pss[RAM_CHANNEL_POSTCOPY]), behind nothing but other urgent pages;
 *   the background pass's own pss is untouched, so its cursor does not move.
 *   The two channels share the link: the urgent bytes delay the background
 *   stream by their time on the wire.
 * - A page already in flight in the background (its bit no longer set)
 *   is not sent again: get_queued_page skips a request whose page is no
 *   longer dirty, and ram_save_host_page_urgent leaves a host page the
 *   background is sending to it (pss_overlap); the fault waits for it.
 * - Host pages go whole (ram_save_host_page, pss_host_page_prepare; the
 *   destination asks for qemu_ram_pagesize(rb) bytes and places the host
 *   page atomically, postcopy_place_page): on 1 GiB hugetlbfs a fault waits
 *   for the whole gigabyte, "~1 second ... across a 10Gbps link"
 *   (postcopy.rst, Postcopy with hugepages).
 * - max-postcopy-bandwidth caps the background stream after the switch
 *   (migration_rate_set in postcopy_start; the switch-over itself is not
 *   limited). The cap paces the migration thread, which sleeps once over
 *   its budget (migration_rate_limit); the bytes it wrote still drain at
 *   link speed, and a page request wakes it (rate_limit_sem), so a
 *   request waits for the batch on the wire, not for the sleep; its bytes
 *   still count against the cap, so the background slows for them. The
 *   return-path thread's preempt channel is not paced.
 */
export class PostcopySource implements PostcopyFetcher {
  /** Pages still to send (the source's migration bitmap: cleared as each page goes). */
  private readonly toSend: Uint32Array;
  private cursor = 0;
  /** Where the pass goes on after the last request served on the main channel (-1: none since the last batch). */
  private requestedCursor = -1;
  /**
   * The background batch in flight: its pages in the order sent (ascending,
   * with at most one wrap to the start of memory, at batchWrapAt), and when
   * each one's host page has wholly arrived.
   */
  private batch: number[] = [];
  private batchWrapAt = 0;
  private batchArrivalNs = new Float64Array(XEN_BATCH_PAGES);
  /** When the main channel has sent everything queued on it; the preempt channel likewise. */
  private mainFreeNs = 0;
  private preemptFreeNs = 0;
  /** Requested host pages on their way (first pfn -> arrival), and the latest arrival. */
  private readonly urgent = new Map<number, number>();
  private lastArrivalNs = 0;
  /** Urgent pages and bytes sent since the last batch (their pages_sent event goes with the next). */
  private urgentPages = 0;
  private urgentBytes = 0;
  /** Preempt: urgent bytes the background stream has yet to yield the link for. */
  private preemptDebtBytes = 0;
  /** Without preempt: urgent bytes sent on the main channel since the last batch, which count against max-postcopy-bandwidth. */
  private urgentMainBytes = 0;
  /** Host pages requested (QEMU's postcopy-requests counter, duplicates of pages in flight apart). */
  requests = 0;
  /** Pages delivered, by the background and by request: the oracle's count at the end. */
  delivered = 0;
  private readonly oneWayNs: number;
  private readonly returnNs: number;
  private readonly hostMask: number;
  /** The destination's record of what has arrived (its tracker), once the guest runs there. */
  private destination: { received(pfn: number): void } = { received() {} };

  constructor(
    private readonly ctx: MigrationContext,
    private readonly ledger: MigrationLedger,
    missing: Uint32Array,
    private readonly opts: PostcopySourceOptions,
  ) {
    this.toSend = missing.slice();
    // For tests: a source that forgets pages, which the phase's check must catch.
    for (let n = 0, p = nextSetBit(this.toSend, 0, ctx.guest.memPages); n < (opts.forgetPages ?? 0) && p >= 0; n++, p = nextSetBit(this.toSend, p + 1, ctx.guest.memPages)) {
      this.toSend[p >>> 5] = this.toSend[p >>> 5]! & ~(1 << (p & 31));
    }
    const rtt = ctx.costs.postcopyRequestRttNs;
    this.oneWayNs = Math.floor(rtt / 2);
    this.returnNs = rtt - this.oneWayNs;
    this.hostMask = ~(opts.hostPagePages - 1);
  }

  /** The guest now runs on the destination: pages are marked there as they arrive. */
  connect(destination: { received(pfn: number): void }): void {
    this.destination = destination;
  }

  /** A host page's bytes on the wire (zero pages go as their header and fill, as the ledger counts them). */
  private hostPageBytes(first: number): number {
    const end = Math.min(first + this.opts.hostPagePages, this.ctx.guest.memPages);
    let bytes = 0;
    for (let p = first; p < end; p++) bytes += this.ledger.wirePageBytes(p);
    return bytes;
  }

  /** Takes the host page at `first` off the bitmap; returns its pages. */
  private take(first: number): number {
    const end = Math.min(first + this.opts.hostPagePages, this.ctx.guest.memPages);
    let n = 0;
    for (let p = first; p < end; p++) {
      const w = p >>> 5;
      const bit = 1 << (p & 31);
      if ((this.toSend[w]! & bit) !== 0) {
        this.toSend[w] = this.toSend[w]! & ~bit;
        n++;
      }
    }
    return n;
  }

  /**
   * The destination touched `pfn`, still missing there, at wall time `t`:
   * when its host page's last byte arrives. Asks the source for it unless
   * it is already on its way.
   */
  fetch(pfn: number, t: number): number {
    const first = pfn & this.hostMask;
    const known = this.urgent.get(first);
    if (known !== undefined) return known;
    if ((this.toSend[first >>> 5]! & (1 << (first & 31))) === 0) {
      // In the batch in flight; if not there either, no one will ever send it (NEVER: the phase's check counts it lost).
      const at = this.inBatchArrivalNs(pfn);
      return at < 0 ? NEVER : Math.max(at, t);
    }
    this.requests++;
    const pages = this.take(first);
    const bytes = this.hostPageBytes(first);
    const wire = this.ctx.link.wireNs(bytes);
    const requestAt = t + this.oneWayNs;
    let departNs: number;
    if (this.opts.preempt) {
      departNs = Math.max(requestAt, this.preemptFreeNs);
      this.preemptFreeNs = departNs + wire;
      this.preemptDebtBytes += bytes;
    } else {
      departNs = Math.max(requestAt, this.mainFreeNs);
      this.mainFreeNs = departNs + wire;
      this.urgentMainBytes += bytes;
      this.requestedCursor = first + this.opts.hostPagePages;
    }
    const arrival = departNs + wire + this.returnNs;
    this.urgent.set(first, arrival);
    if (arrival > this.lastArrivalNs) this.lastArrivalNs = arrival;
    this.urgentPages += pages;
    this.urgentBytes += bytes;
    this.delivered += pages;
    this.ledger.pushPages(pages, bytes);
    return arrival;
  }

  /**
   * The migration thread's next step at `now`: the batch in flight has
   * arrived; send the next one. Returns when the step after is due, or
   * undefined once every page is on the destination.
   */
  push(now: number): number | undefined {
    for (const pfn of this.batch) this.destination.received(pfn);
    this.batch = [];
    for (const [first, arrival] of this.urgent) {
      if (arrival > now) continue;
      this.receivedHostPage(first);
      this.urgent.delete(first);
    }
    if (this.urgentPages > 0) {
      // Requested pages went on the wire since the last batch: one event for them.
      this.ctx.run.emit(RunEventKind.pagesSent, now, NO_VCPU, this.ledger.roundCount, this.urgentPages, this.ctx.link.wireNs(this.urgentBytes));
      this.urgentPages = 0;
      this.urgentBytes = 0;
    }
    if (this.requestedCursor >= 0) {
      this.cursor = this.requestedCursor < this.ctx.guest.memPages ? this.requestedCursor : 0;
      this.requestedCursor = -1;
    }
    const memPages = this.ctx.guest.memPages;
    let pages = 0;
    let bytes = 0;
    let pfn = this.cursor;
    // Each host page's bytes so far, to place its arrival once the batch's start is known.
    const hostEndBytes: number[] = [];
    this.batchWrapAt = -1;
    while (pages < XEN_BATCH_PAGES) {
      let next = nextSetBit(this.toSend, pfn, memPages);
      if (next < 0 && pfn > 0) {
        next = nextSetBit(this.toSend, 0, memPages);
        if (next >= 0 && this.batchWrapAt < 0) this.batchWrapAt = this.batch.length;
      }
      if (next < 0) break;
      const first = next & this.hostMask;
      bytes += this.hostPageBytes(first);
      const end = Math.min(first + this.opts.hostPagePages, memPages);
      for (let p = first; p < end; p++) {
        if ((this.toSend[p >>> 5]! & (1 << (p & 31))) === 0) continue;
        this.batch.push(p);
        hostEndBytes.push(bytes);
      }
      pages += this.take(first);
      pfn = end;
    }
    if (this.batchWrapAt < 0) this.batchWrapAt = this.batch.length;
    this.cursor = pfn < memPages ? pfn : 0;
    if (pages === 0) {
      // Nothing left to send: done once the last requested page is in.
      if (this.urgent.size > 0) return Math.max(now + 1, this.lastArrivalNs);
      return undefined;
    }
    this.delivered += pages;
    this.ledger.pushPages(pages, bytes);
    // Urgent bytes sent on the preempt channel took their share of the link first.
    const start = Math.max(now, this.mainFreeNs) + this.ctx.link.wireNs(this.preemptDebtBytes);
    this.preemptDebtBytes = 0;
    const wire = this.ledger.transmit(start, pages, bytes);
    this.mainFreeNs = start + wire;
    if (this.batchArrivalNs.length < this.batch.length) this.batchArrivalNs = new Float64Array(this.batch.length);
    for (let i = 0; i < this.batch.length; i++) this.batchArrivalNs[i] = start + this.ctx.link.wireNs(hostEndBytes[i]!);
    const cap = this.opts.maxBandwidthBytesPerSec;
    // The cap counts every byte the migration thread wrote, requested pages included (migration_rate_account).
    const paced = cap !== undefined && cap < this.ctx.link.bandwidthBytesPerSec ? this.ctx.link.wireNs(bytes + this.urgentMainBytes, cap) : wire;
    this.urgentMainBytes = 0;
    return start + Math.max(wire, paced);
  }

  /** When `pfn`, in the batch in flight, is placed on the destination (its host page's last byte in). */
  private inBatchArrivalNs(pfn: number): number {
    const b = this.batch;
    // Two ascending runs: before the wrap and after it.
    let lo = pfn >= (b[0] ?? 0) ? 0 : this.batchWrapAt;
    let hi = pfn >= (b[0] ?? 0) ? this.batchWrapAt : b.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (b[mid]! < pfn) lo = mid + 1;
      else hi = mid;
    }
    return lo < b.length && b[lo] === pfn ? this.batchArrivalNs[lo]! : -1;
  }

  private receivedHostPage(first: number): void {
    const end = Math.min(first + this.opts.hostPagePages, this.ctx.guest.memPages);
    for (let p = first; p < end; p++) this.destination.received(p);
  }

  /** Whether every page the destination lacked at the switch was sent (the oracle's count). */
  get sentAll(): boolean {
    return nextSetBit(this.toSend, 0, this.ctx.guest.memPages) < 0;
  }
}
