import type { CostModel } from '../../model/cost-model.js';
import type { PageOracle } from '../page-oracle.js';
import type { MigrationOptions, ZeroPageDetection } from './migration-options.js';
import { DEFAULT_MULTIFD_CHANNELS } from './migration-options.js';
import { type Compression, pageCodec, type PageCodec } from './page-codec.js';
import { formatContentMix, PageClass, type PageClassValue, type PageContents } from './page-contents.js';
import { XBZRLE_FRAMING_BYTES, XbzrleCache, xbzrleEncodedBytes } from './xbzrle-cache.js';

const PAGE_BYTES = 4096;
/** multifd.h MULTIFD_PACKET_SIZE: 512 KiB of pages per packet (page_count = 128 at 4 KiB). */
export const MULTIFD_PACKET_PAGES = (512 * 1024) / PAGE_BYTES;
/**
 * multifd.h MultiFDPacket_t before its offsets: the 12-byte
 * MultiFDPacketHdr_t (magic, version, flags), pages_alloc, normal_pages,
 * next_packet_size, packet_num (8), zero_pages, one reserved u32, three
 * reserved u64 and the 256-byte ramblock name: 320 bytes. Then one 8-byte
 * offset per page, normal and zero alike.
 */
export const MULTIFD_PACKET_HEADER_BYTES = 320;
const MULTIFD_OFFSET_BYTES = 8;
/**
 * A zero page on QEMU's main stream is its header and one byte of fill:
 * save_zero_page writes save_page_header(offset | RAM_SAVE_FLAG_ZERO) and
 * then qemu_put_byte(file, 0) (migration/ram.c), 9 bytes in all.
 */
export const ZERO_PAGE_FILL_BYTES = 1;

/**
 * The bytes each zero page took on the wire in a run with these facts:
 * an offset in a multifd packet when the channels found it (multifd
 * zero-page detection), else its header and fill on the main stream.
 */
export function zeroPageWireBytes(d: Pick<DataPathFacts, 'zeroPageDetection' | 'multifd'> | undefined, pageHeaderBytes: number): number {
  return d?.multifd && d.zeroPageDetection === 'multifd' ? MULTIFD_OFFSET_BYTES : pageHeaderBytes + ZERO_PAGE_FILL_BYTES;
}

/** How a page went: as a zero page, in full (or compressed), as an XBZRLE delta, or not at all (XBZRLE found it unchanged). */
export const SentAs = { zero: 0, normal: 1, xbzrle: 2, unchanged: 3 } as const;

/** What the run's data path did, for the summary (and `run --json`'s `dataPath`). */
export interface DataPathFacts {
  /** The page-content mix the run used, and where it came from. */
  readonly pageContents: { readonly zero: number; readonly compressible: number; readonly incompressible: number; readonly ratio: number; readonly why: string };
  /** QEMU only: where zero pages were looked for (`legacy` is what `multifd` means without multifd). */
  readonly zeroPageDetection?: ZeroPageDetection;
  readonly multifd?: MultifdFacts;
  /** QEMU without multifd: the migration thread's CPU time sending pages, and the sending time it added beyond the link's. */
  readonly migrationThread?: { readonly busyNs: number; readonly cpuBoundNs: number };
  readonly xbzrle?: XbzrleFacts;
}

export interface MultifdFacts {
  readonly channels: number;
  readonly compression: Compression;
  readonly level: number;
  /** Host cores the migration thread and the channels shared. */
  readonly hostCores: number;
  readonly packets: number;
  /** Pages the channels sent with data, their bytes before and after compression. */
  readonly normalPages: number;
  readonly dataBytesIn: number;
  readonly dataBytesOut: number;
  /** CPU time on the migration thread and summed over the channel threads. */
  readonly migrationThreadNs: number;
  readonly channelThreadsNs: number;
  /** Sending time the CPU added beyond the link's (the batches that waited for the threads, not the wire). */
  readonly cpuBoundNs: number;
}

export interface XbzrleFacts {
  readonly cacheBytes: number;
  /** QEMU's xbzrle pages (sent as deltas) and bytes, cache misses and overflows. */
  readonly pages: number;
  readonly bytes: number;
  readonly cacheHits: number;
  readonly cacheMisses: number;
  readonly overflows: number;
  /** Hits whose page had not changed (encoded length 0): nothing sent. */
  readonly unchanged: number;
  /** Bytes the deltas saved against sending those pages in full. */
  readonly bytesSaved: number;
  /** QEMU's encoding-rate: the deltas' pages x 4096 over their bytes. */
  readonly encodingRate: number;
  /** The migration thread's CPU time on XBZRLE: encoding on hits, copying pages into the cache (part of migrationThread.busyNs). */
  readonly threadNs: number;
}

/** The facts of a run with a content mix and no QEMU data path (post-copy's push). */
export function contentFacts(contents: PageContents): DataPathFacts['pageContents'] {
  const m = contents.mix;
  return { zero: m.zero, compressible: m.compressible, incompressible: Math.max(0, 1 - m.zero - m.compressible), ratio: m.ratio, why: m.why };
}

/**
 * QEMU's RAM data path, page by page (migration/ram.c
 * ram_save_target_page_common, QEMU 9): what each page costs on the wire
 * and in CPU, and which thread pays.
 *
 * - Without multifd (the migration thread alone): a zero page is a flag in
 *   its header and a byte of fill (save_zero_page, unless
 *   zero-page-detection is `none`);
 *   once XBZRLE has started, a page in its cache goes as a delta
 *   (xbzrle-cache.ts); any other goes in full after its 8-byte header.
 *   The migration thread does all of it: for each page it finds and clears
 *   the dirty bit and writes the header (migrationPagePerPageNs), checks
 *   for zeros (buffer_is_zero), and its QEMUFile hands the page to the
 *   socket (save_normal_page -> qemu_put_buffer_async, qemu_fflush ->
 *   writev), where the kernel copies it (socketSendPerKiBNs, as for a
 *   multifd channel). A batch takes the longer of the link's time and the
 *   thread's: one thread sends about 2.7 GB/s of incompressible pages, so
 *   it fills a 10 Gbit link and not a 25 Gbit one, which is what multifd
 *   is for. XBZRLE's work is the thread's too (ram.c save_xbzrle_page):
 *   a cache hit copies the page out, encodes it against the cached copy
 *   and copies it back (xbzrleHitPerPageNs, about 2 us), and a page put in
 *   the cache is copied in (xbzrleInsertPerPageNs), so a thread that sends
 *   mostly deltas tops out near 0.5 M pages/s whatever the link.
 * - With multifd (migration/multifd.c, multifd-nocomp.c, multifd-zlib.c,
 *   multifd-zstd.c, multifd-zero-page.c): the migration thread queues each
 *   page (multifd_queue_page) into packets of MULTIFD_PACKET_PAGES, which go
 *   to the channels round-robin (multifd_send picks the next idle channel);
 *   with zero-page-detection `legacy` it first checks the page itself and
 *   sends a zero page on the main stream; with `multifd` each channel checks
 *   its packet's pages (multifd_send_zero_page_detect) and lists zero pages
 *   by offset only; a channel then compresses its normal pages
 *   (page-codec.ts) or sends them as they are, into its socket. Every
 *   channel's bytes share the one link. A batch of pages takes the longest
 *   of: its bytes on the link; the migration thread's work; one channel's
 *   share of the channels' work (at most as many channels as the batch has
 *   packets); and all of the threads' work over the host cores they share.
 *   Each figure is a cost-model entry (queue, zero scan, socket send) or a
 *   codec's measured speed.
 */
export class QemuDataPath {
  private readonly codec: PageCodec | undefined;
  private readonly channels: number;
  private readonly detection: ZeroPageDetection;
  private readonly hostCores: number;
  private readonly cache: XbzrleCache | undefined;
  private xbzrleStarted = false;
  /** QEMU's dirty_sync_count: the XBZRLE cache's ages. */
  private generation = 0;
  /** How the last page went (SentAs). */
  lastSentAs: number = SentAs.normal;
  // The batch under way.
  private mainNs = 0;
  private channelNs = 0;
  private batchPackets = 0;
  /** Pages in the packet being filled (0: the next page starts one). */
  private packetFill = 0;
  // Totals.
  private packets = 0;
  private normalPages = 0;
  private dataBytesIn = 0;
  private dataBytesOut = 0;
  private mainTotalNs = 0;
  private channelTotalNs = 0;
  private cpuBoundNs = 0;
  private xPages = 0;
  private xBytes = 0;
  private xHits = 0;
  private xMisses = 0;
  private xOverflows = 0;
  private xUnchanged = 0;
  private xSaved = 0;
  /** The migration thread's CPU time on XBZRLE so far. */
  private xbzrleNs = 0;

  constructor(
    private readonly opts: MigrationOptions,
    private readonly contents: PageContents,
    private readonly costs: CostModel,
    private readonly oracle: PageOracle,
    private readonly writtenBytes: Uint16Array | undefined,
  ) {
    this.channels = opts.multifdChannels ?? 0;
    const compression = opts.multifdCompression ?? 'none';
    this.codec = this.channels > 0 ? pageCodec(compression, compression === 'zlib' ? (opts.multifdZlibLevel ?? 1) : (opts.multifdZstdLevel ?? 1)) : undefined;
    const asked = opts.zeroPageDetection ?? 'multifd';
    // ram_save_target_page_common: without multifd, `multifd` detection is the legacy one.
    this.detection = this.channels === 0 && asked === 'multifd' ? 'legacy' : asked;
    this.hostCores = opts.hostCores ?? this.channels + 1;
    const cacheBytes = opts.xbzrleCacheBytes ?? 0;
    if (cacheBytes > 0) {
      if (writtenBytes === undefined) throw new Error('XBZRLE needs the run to count written bytes (SimulationSetup.countWriteBytes)');
      this.cache = new XbzrleCache(cacheBytes);
    }
  }

  /** find_dirty_block completed a round: XBZRLE starts (rs->xbzrle_started). */
  roundCompleted(): void {
    this.xbzrleStarted = true;
  }

  /**
   * migration_bitmap_sync: dirty_sync_count goes up (the cache's ages), and
   * multifd_send_sync_main flushes the channels, so the next page starts a
   * packet.
   */
  synced(): void {
    this.generation++;
    this.packetFill = 0;
  }

  /** The page's bytes on the wire (before the oracle copies it; `lastStage`: the stop-and-copy). */
  send(pfn: number, lastStage: boolean): number {
    const version = this.oracle.srcVersion[pfn]!;
    const cls = this.contents.classOf(pfn, version);
    return this.channels > 0 ? this.sendMultifd(cls) : this.sendLegacy(pfn, cls, lastStage);
  }

  private sendLegacy(pfn: number, cls: PageClassValue, lastStage: boolean): number {
    const bytes = this.legacyBytes(pfn, cls, lastStage);
    const costs = this.costs;
    const scanNs = this.detection === 'none' ? 0 : cls === PageClass.zero ? costs.zeroScanZeroPageNs : costs.zeroScanNonZeroPageNs;
    this.mainNs += costs.migrationPagePerPageNs + scanNs + Math.round((bytes * costs.socketSendPerKiBNs) / 1024);
    return bytes;
  }

  private legacyBytes(pfn: number, cls: PageClassValue, lastStage: boolean): number {
    const header = this.costs.pageHeaderBytes;
    const cache = this.cache;
    if (cls === PageClass.zero && this.detection !== 'none') {
      // save_zero_page; xbzrle_cache_zero_page then caches the zeros, so a later small write goes as a delta.
      if (cache !== undefined && this.xbzrleStarted && !lastStage && cache.insert(pfn, this.generation)) this.xbzrleWork(this.costs.xbzrleInsertPerPageNs);
      this.lastSentAs = SentAs.zero;
      return header + ZERO_PAGE_FILL_BYTES;
    }
    if (cache !== undefined && this.xbzrleStarted) {
      const delta = this.xbzrleBytes(pfn, lastStage);
      if (delta >= 0) return delta;
    }
    this.lastSentAs = SentAs.normal;
    return PAGE_BYTES + header;
  }

  /** XBZRLE's work on the migration thread (legacyBytes runs only there). */
  private xbzrleWork(ns: number): void {
    this.xbzrleNs += ns;
    this.mainNs += ns;
  }

  /** save_xbzrle_page: the delta's bytes on the wire, or -1 to send the page in full. */
  private xbzrleBytes(pfn: number, lastStage: boolean): number {
    const cache = this.cache!;
    if (!cache.hit(pfn, this.generation)) {
      this.xMisses++;
      // A miss is cached for next time (not at the last stage); a fresh occupant keeps its slot.
      if (!lastStage && cache.insert(pfn, this.generation)) this.xbzrleWork(this.costs.xbzrleInsertPerPageNs);
      return -1;
    }
    this.xHits++;
    // The encode runs whatever it finds: unchanged, a delta, or an overflow.
    this.xbzrleWork(this.costs.xbzrleHitPerPageNs);
    const stores = this.oracle.srcVersion[pfn]! - this.oracle.dstVersion.get(pfn);
    const encoded = xbzrleEncodedBytes(this.writtenBytes![pfn]!, stores);
    if (encoded === 0) {
      this.xUnchanged++;
      this.lastSentAs = SentAs.unchanged;
      return 0;
    }
    if (encoded < 0) {
      this.xOverflows++;
      return -1;
    }
    const full = PAGE_BYTES + this.costs.pageHeaderBytes;
    const bytes = this.costs.pageHeaderBytes + XBZRLE_FRAMING_BYTES + encoded;
    this.xPages++;
    this.xBytes += bytes;
    this.xSaved += full - bytes;
    this.lastSentAs = SentAs.xbzrle;
    return bytes;
  }

  private sendMultifd(cls: PageClassValue): number {
    const costs = this.costs;
    this.mainNs += costs.multifdQueuePerPageNs;
    const scanNs = cls === PageClass.zero ? costs.zeroScanZeroPageNs : costs.zeroScanNonZeroPageNs;
    if (this.detection === 'legacy') {
      // On the migration thread, and a zero page goes on the main stream as a flag.
      this.mainNs += scanNs;
      if (cls === PageClass.zero) {
        this.lastSentAs = SentAs.zero;
        return costs.pageHeaderBytes + ZERO_PAGE_FILL_BYTES;
      }
    }
    let bytes = MULTIFD_OFFSET_BYTES;
    if (this.packetFill === 0) {
      bytes += MULTIFD_PACKET_HEADER_BYTES + (this.codec?.packetFramingBytes ?? 0);
      this.packets++;
      this.batchPackets++;
    } else if (this.batchPackets === 0) this.batchPackets = 1;
    this.packetFill = (this.packetFill + 1) % MULTIFD_PACKET_PAGES;
    if (this.detection === 'multifd') {
      this.channelNs += scanNs;
      if (cls === PageClass.zero) {
        this.lastSentAs = SentAs.zero;
        return bytes;
      }
    }
    const codec = this.codec;
    const data = codec ? codec.compressedBytes(cls, this.contents.mix.ratio) : PAGE_BYTES;
    this.channelNs += (codec ? codec.compressNs(cls) : 0) + Math.round((data * costs.socketSendPerKiBNs) / 1024);
    this.normalPages++;
    this.dataBytesIn += PAGE_BYTES;
    this.dataBytesOut += data;
    this.lastSentAs = SentAs.normal;
    return bytes + data;
  }

  /**
   * The batch of pages sent since the last call takes `linkNs` on the wire;
   * returns how long it takes in all (multifd: the CPU may take longer).
   */
  batchNs(linkNs: number): number {
    if (this.channels === 0) {
      // The migration thread alone: the link's time or its own.
      const cpuNs = this.mainNs;
      this.mainTotalNs += cpuNs;
      this.cpuBoundNs += Math.max(0, cpuNs - linkNs);
      this.mainNs = 0;
      return Math.max(linkNs, cpuNs);
    }
    const parallel = Math.max(1, Math.min(this.channels, this.batchPackets));
    const cpuNs = Math.ceil(Math.max(this.mainNs, this.channelNs / parallel, (this.mainNs + this.channelNs) / this.hostCores));
    this.mainTotalNs += this.mainNs;
    this.channelTotalNs += this.channelNs;
    this.cpuBoundNs += Math.max(0, cpuNs - linkNs);
    this.mainNs = 0;
    this.channelNs = 0;
    this.batchPackets = 0;
    return Math.max(linkNs, cpuNs);
  }

  facts(): Omit<DataPathFacts, 'pageContents'> {
    const multifd: MultifdFacts | undefined =
      this.channels > 0
        ? {
            channels: this.channels,
            compression: this.opts.multifdCompression ?? 'none',
            level: this.codec?.level ?? 0,
            hostCores: this.hostCores,
            packets: this.packets,
            normalPages: this.normalPages,
            dataBytesIn: this.dataBytesIn,
            dataBytesOut: this.dataBytesOut,
            migrationThreadNs: this.mainTotalNs,
            channelThreadsNs: this.channelTotalNs,
            cpuBoundNs: this.cpuBoundNs,
          }
        : undefined;
    const migrationThread = this.channels === 0 ? { busyNs: this.mainTotalNs, cpuBoundNs: this.cpuBoundNs } : undefined;
    const xbzrle: XbzrleFacts | undefined = this.cache
      ? {
          cacheBytes: this.cache.cacheBytes,
          pages: this.xPages,
          bytes: this.xBytes,
          cacheHits: this.xHits,
          cacheMisses: this.xMisses,
          overflows: this.xOverflows,
          unchanged: this.xUnchanged,
          bytesSaved: this.xSaved,
          encodingRate: this.xBytes > 0 ? (this.xPages * PAGE_BYTES) / this.xBytes : 0,
          threadNs: this.xbzrleNs,
        }
      : undefined;
    return { zeroPageDetection: this.detection, ...(multifd ? { multifd } : {}), ...(migrationThread ? { migrationThread } : {}), ...(xbzrle ? { xbzrle } : {}) };
  }

  /** The mix in words, for the run's text. */
  describeContents(): string {
    return formatContentMix(this.contents.mix);
  }
}

/** Channels the options ask for: multifd on with its default when only `--multifd` was given. */
export function multifdChannelsOf(multifd: boolean, channels: number | undefined): number {
  if (channels !== undefined) return channels;
  return multifd ? DEFAULT_MULTIFD_CHANNELS : 0;
}
