// QEMU's multifd (migration/multifd.c, multifd-nocomp.c, multifd-zstd.c,
// multifd-zero-page.c; ram.c ram_save_target_page_common): pages go in
// packets of 128 (MULTIFD_PACKET_SIZE / 4 KiB) over N channel threads that
// share the link; a batch takes the longest of its bytes on the link, the
// migration thread's work, one channel's share of the channels' work and
// all the threads' work over the host cores (qemu-data-path.ts). Every
// expected time below is derived from the cost model's entries and the
// packet's layout, not read from a run.
import { describe, expect, it } from 'vitest';
import { runMigration } from '../../src/api/run-migration.js';
import { RunEventKind } from '../../src/events/run-event-kind.js';
import { runEventCostNs } from '../../src/events/run-cost.js';
import type { RunBatch } from '../../src/events/run-batch.js';
import { DEFAULT_COSTS } from '../../src/model/cost-model.js';
import type { MigrationOptions } from '../../src/reducers/migration/migration-options.js';
import { pageCodec } from '../../src/reducers/migration/page-codec.js';
import { PageClass, type ContentMix } from '../../src/reducers/migration/page-contents.js';
import { MULTIFD_PACKET_HEADER_BYTES, MULTIFD_PACKET_PAGES, ZERO_PAGE_FILL_BYTES } from '../../src/reducers/migration/qemu-data-path.js';
import { XEN_BATCH_PAGES } from '../../src/reducers/migration/migration-options.js';
import type { WorkloadDefinition } from '../../src/workloads/workload.js';
import { config, customSource } from '../helpers/custom-source.js';

const M = 8 * XEN_BATCH_PAGES;
const PAGE = 4096;
const OFFSET = 8;
const C = DEFAULT_COSTS;

/** Writes every page once, then idles: the migration's first pass sends all of them, nothing after. */
const writeAll: WorkloadDefinition = {
  name: 'test-write-all',
  description: 'writes every page once, then idles',
  usesMmu: false,
  params: [],
  generate(c, out) {
    for (let p = 0; p < c.memPages; p++) out.physWrite(1000, 0, p, PAGE);
    out.idle(c.durationNs, 0);
  },
};

const INCOMPRESSIBLE: ContentMix = { zero: 0, compressible: 0, ratio: 1, why: 'test' };

/** The durations of the first round's batches of pages (run events `pages_sent` of round 0). */
function run(migration: Partial<MigrationOptions>): { batchesNs: number[]; summary: ReturnType<typeof runMigration> } {
  const batchesNs: number[] = [];
  const summary = runMigration(
    customSource(writeAll, config(M, 2e9)),
    // A fast link by default: the first pass is over before the first 100 ms window closes, so it is all of round 0.
    { tracker: 'hap', p2m: '4k', migration: { policy: 'qemu', startNs: 1e6, pageContents: INCOMPRESSIBLE, bandwidthBytesPerSec: 1e12, maxBandwidthBytesPerSec: 1e15, ...migration } },
    (b: RunBatch) => {
      for (let i = 0; i < b.count; i++) if (b.kind[i] === RunEventKind.pagesSent && b.page[i] === 0) batchesNs.push(runEventCostNs(b, i));
    },
  );
  return { batchesNs, summary };
}

/** A full batch of XEN_BATCH_PAGES incompressible pages without compression: its bytes, and each thread's work. */
const BATCH_PACKETS = XEN_BATCH_PAGES / MULTIFD_PACKET_PAGES;
const BATCH_BYTES = XEN_BATCH_PAGES * (PAGE + OFFSET) + BATCH_PACKETS * MULTIFD_PACKET_HEADER_BYTES;
const MAIN_NS = XEN_BATCH_PAGES * C.multifdQueuePerPageNs;
// Zero detection in the channels (the default, `multifd`) finds no zero page at the first line; then the socket copy.
const CHANNEL_NS = XEN_BATCH_PAGES * (C.zeroScanNonZeroPageNs + Math.round((PAGE * C.socketSendPerKiBNs) / 1024));

describe('multifd', () => {
  it("N multifd channels on a link that a single channel's CPU cost cannot fill send faster up to the link's rate and no faster", () => {
    // A link one channel cannot fill, two can: 40 Gbit/s.
    const bandwidthBytesPerSec = 5e9;
    const linkNs = Math.ceil((BATCH_BYTES * 1e9) / bandwidthBytesPerSec);
    expect(CHANNEL_NS).toBeGreaterThan(linkNs);
    expect(CHANNEL_NS / 2).toBeLessThan(linkNs);
    const opts = { bandwidthBytesPerSec, maxBandwidthBytesPerSec: 1e15 };
    const one = run({ ...opts, multifdChannels: 1 });
    const two = run({ ...opts, multifdChannels: 2 });
    const four = run({ ...opts, multifdChannels: 4 });
    for (const r of [one, two, four]) {
      expect(r.summary.outcome).toBe('completed');
      expect(r.summary.lostPages).toBe(0);
      expect(r.batchesNs.length).toBe(M / XEN_BATCH_PAGES);
    }
    // One channel: its own work sets the pace (the migration thread and it each have a core).
    expect(one.batchesNs[0]).toBe(CHANNEL_NS);
    // Two and four: the link's rate, and no faster.
    expect(two.batchesNs[0]).toBe(linkNs);
    expect(four.batchesNs[0]).toBe(linkNs);
    expect(one.summary.dataPath!.multifd!.cpuBoundNs).toBeGreaterThan(0);
    expect(four.summary.dataPath!.multifd!.cpuBoundNs).toBe(0);
    expect(one.summary.dataPath!.multifd!.packets).toBeGreaterThanOrEqual(M / MULTIFD_PACKET_PAGES);
  });

  it('channels share the host cores: four channels on two cores go no faster than the threads fit on them', () => {
    const r = run({ multifdChannels: 4, hostCores: 2 });
    expect(r.batchesNs[0]).toBe(Math.ceil((MAIN_NS + CHANNEL_NS) / 2));
    expect(r.summary.dataPath!.multifd!.hostCores).toBe(2);
  });

  it('zstd on incompressible pages sends full pages (raw blocks: the page, plus 21 bytes of framing a packet)', () => {
    const zstd = pageCodec('zstd', 1)!;
    expect(zstd.compressedBytes(PageClass.incompressible, 1)).toBe(PAGE);
    const r = run({ multifdChannels: 2, multifdCompression: 'zstd' });
    const m = r.summary.dataPath!.multifd!;
    expect(m.normalPages).toBe(r.summary.pagesSent);
    expect(m.dataBytesOut).toBe(m.dataBytesIn);
    // On the wire: each page and its offset, each packet's header and zstd's framing.
    expect(r.summary.rounds[0]!.bytesSent).toBe(r.summary.rounds[0]!.pagesSent * (PAGE + OFFSET) + (r.summary.rounds[0]!.pagesSent / MULTIFD_PACKET_PAGES) * (MULTIFD_PACKET_HEADER_BYTES + zstd.packetFramingBytes));
  });

  it('zstd shrinks compressible pages by the mix ratio times its level-1 gain over zlib level 1', () => {
    const r = run({ multifdChannels: 2, multifdCompression: 'zstd', pageContents: { zero: 0, compressible: 1, ratio: 4, why: 'test' } });
    const m = r.summary.dataPath!.multifd!;
    expect(m.dataBytesOut).toBe(m.normalPages * Math.ceil(PAGE / (4 * 1.02)));
    expect(r.summary.lostPages).toBe(0);
  });
});

describe('zero-page detection (QEMU 9 zero-page-detection)', () => {
  // Every written page is zero when sent.
  const ZEROS: ContentMix = { zero: 1, compressible: 0, ratio: 1, why: 'test' };
  const base = { pageContents: ZEROS, multifdChannels: 2 };

  it('multifd: the channels check each page and list a zero page by its offset alone', () => {
    const r = run(base);
    const m = r.summary.dataPath!.multifd!;
    expect(r.summary.zeroPagesSent).toBe(r.summary.pagesSent);
    expect(m.normalPages).toBe(0);
    expect(r.summary.rounds[0]!.bytesSent).toBe(M * OFFSET + (M / MULTIFD_PACKET_PAGES) * MULTIFD_PACKET_HEADER_BYTES);
    // The scans ran on the channels; the migration thread only queued.
    expect(m.channelThreadsNs).toBe(r.summary.pagesSent * C.zeroScanZeroPageNs);
    expect(m.migrationThreadNs).toBe(r.summary.pagesSent * C.multifdQueuePerPageNs);
  });

  it('legacy: the migration thread checks each page and sends a zero page as a flag and a byte of fill on the main stream', () => {
    const r = run({ ...base, zeroPageDetection: 'legacy' });
    const m = r.summary.dataPath!.multifd!;
    expect(r.summary.zeroPagesSent).toBe(r.summary.pagesSent);
    expect(m.packets).toBe(0);
    expect(r.summary.rounds[0]!.bytesSent).toBe(M * (C.pageHeaderBytes + ZERO_PAGE_FILL_BYTES));
    expect(m.migrationThreadNs).toBe(r.summary.pagesSent * (C.multifdQueuePerPageNs + C.zeroScanZeroPageNs));
    expect(m.channelThreadsNs).toBe(0);
  });

  it('none: nobody checks, and a zero page goes in full like any other', () => {
    const r = run({ ...base, zeroPageDetection: 'none' });
    expect(r.summary.zeroPagesSent).toBe(0);
    expect(r.summary.rounds[0]!.bytesSent).toBe(BATCH_BYTES * (M / XEN_BATCH_PAGES));
    expect(r.summary.dataPath!.zeroPageDetection).toBe('none');
  });

  it('without multifd, `multifd` detection is the legacy one and none sends zero pages in full', () => {
    const legacy = run({ pageContents: ZEROS });
    expect(legacy.summary.dataPath!.zeroPageDetection).toBe('legacy');
    expect(legacy.summary.rounds[0]!.bytesSent).toBe(M * (C.pageHeaderBytes + ZERO_PAGE_FILL_BYTES));
    const none = run({ pageContents: ZEROS, zeroPageDetection: 'none' });
    expect(none.summary.rounds[0]!.bytesSent).toBe(M * (PAGE + C.pageHeaderBytes));
    expect(none.summary.lostPages).toBe(0);
  });
});

describe('the migration thread alone (no multifd)', () => {
  // ram.c without multifd: the migration thread finds and clears each dirty
  // bit and writes the header (migrationPagePerPageNs), checks the page for
  // zeros (buffer_is_zero) and its QEMUFile hands the page to the socket,
  // where the kernel copies it (socketSendPerKiBNs): a batch takes the
  // longer of the link's time and that work.
  const NORMAL_WIRE = PAGE + C.pageHeaderBytes;
  const THREAD_NS = XEN_BATCH_PAGES * (C.migrationPagePerPageNs + C.zeroScanNonZeroPageNs + Math.round((NORMAL_WIRE * C.socketSendPerKiBNs) / 1024));
  const LEGACY_BATCH_BYTES = XEN_BATCH_PAGES * NORMAL_WIRE;

  it("the thread's work sets the pace on a link it cannot fill (40 Gbit/s), the link's on one it can (10 Gbit/s)", () => {
    const fast = 5e9;
    const slow = 1.25e9;
    const fastLinkNs = Math.ceil((LEGACY_BATCH_BYTES * 1e9) / fast);
    const slowLinkNs = Math.ceil((LEGACY_BATCH_BYTES * 1e9) / slow);
    expect(THREAD_NS).toBeGreaterThan(fastLinkNs);
    expect(THREAD_NS).toBeLessThan(slowLinkNs);
    const onFast = run({ bandwidthBytesPerSec: fast });
    const onSlow = run({ bandwidthBytesPerSec: slow });
    expect(onFast.batchesNs[0]).toBe(THREAD_NS);
    expect(onSlow.batchesNs[0]).toBe(slowLinkNs);
    const t = onFast.summary.dataPath!.migrationThread!;
    expect(t.cpuBoundNs).toBeGreaterThan(0);
    expect(onSlow.summary.dataPath!.migrationThread!.cpuBoundNs).toBe(0);
    expect(onFast.summary.lostPages).toBe(0);
    // Two multifd channels on the fast link share the copying: they keep up with it.
    expect(run({ bandwidthBytesPerSec: fast, multifdChannels: 2 }).batchesNs[0]).toBe(Math.ceil((BATCH_BYTES * 1e9) / fast));
  });

  it('a zero page costs the thread its scan of all 4 KiB and the copy of its 9 bytes', () => {
    const r = run({ pageContents: { zero: 1, compressible: 0, ratio: 1, why: 'test' } });
    const perPage = C.migrationPagePerPageNs + C.zeroScanZeroPageNs + Math.round(((C.pageHeaderBytes + ZERO_PAGE_FILL_BYTES) * C.socketSendPerKiBNs) / 1024);
    expect(r.summary.zeroPagesSent).toBe(r.summary.pagesSent);
    expect(r.summary.dataPath!.migrationThread!.busyNs).toBe(r.summary.pagesSent * perPage);
  });
});
