import { DEFAULT_BATCH_EVENTS } from '../events/guest-batch-builder.js';
import type { TraceHeader } from '../trace/trace-records.js';
import { workloadTraceHeader } from '../trace/workload-trace-header.js';
import { PageSet } from '../util/page-set.js';
import type { GuestKernel } from '../workloads/guest-kernel.js';
import type { CaptureFormat, CaptureReplay, ImportSetup } from './capture-format.js';
import type { ImportGuest, ImportSpace } from './import-guest.js';
import { type ImportOptions, type ImportResult, sourceIdentity } from './import-options.js';
import { DeferredTrace } from './import-trace.js';
import { LackeyAccesses, LackeyAccessKind, LackeyParser } from './lackey-parser.js';
import { runImport, runImportSync } from './run-import.js';

/**
 * `migsim import lackey`: the memory trace valgrind's lackey tool prints
 * for one program becomes a workload trace of that program running in a
 * guest (one process on vCPU 0 of a booted guest kernel). Loads become
 * reads, stores and modifies become writes (a store across a page boundary
 * writes both pages), through the same vpn map and demand-paged regions as
 * an rtdirty import (src/import/import-guest.ts), so page faults, zero
 * fills and page-table writes are the guest kernel's. Guest time is the
 * number of instructions executed (I records) over --instr-per-sec, from the moment
 * the kernel has booted: each access happens at its instruction's time,
 * the kernel's fault handling included (as a built-in workload's accesses
 * keep their schedule), so the trace ends at the log's last instruction.
 * Instruction fetches are not memory accesses the trackers care about and
 * are only counted.
 */
export const LACKEY_WORKLOAD = 'import:lackey';

/** Nominal interval for inspect's per-interval figures (lackey has no intervals of its own). */
const LACKEY_INTERVAL_NS = 10_000_000;

/** Lines that start with this byte are instructions. */
const INSTRUCTION_BYTE = 0x49;

/** Bytes of a read event (reads carry no size in the trace). */
const READ_BYTES = 8;

export async function importLackey(opts: ImportOptions): Promise<ImportResult> {
  return runImport(opts, LACKEY_FORMAT);
}

/** The same, synchronously, for a log that is not compressed. */
export function importLackeySync(opts: ImportOptions): ImportResult {
  return runImportSync(opts, LACKEY_FORMAT);
}

/**
 * A lackey log runs on one vCPU. A large log is hashed, and its
 * instructions counted, by a worker thread: the header (digest, length) is
 * then known early and the events go straight to the trace.
 */
const LACKEY_FORMAT: CaptureFormat = {
  defaultVcpus: 1,
  countLinesStartingWith: INSTRUCTION_BYTE,
  open: (setup) => new LackeyImport(setup),
};

/** One log's import: the parser, the replay, and the trace held until its header is known. */
class LackeyImport implements CaptureReplay {
  private readonly trace: DeferredTrace;
  private readonly guest: ImportGuest;
  private readonly replay: LackeyReplay;
  private readonly parser: LackeyParser;
  private readonly accesses = new LackeyAccesses();

  constructor(private readonly setup: ImportSetup) {
    this.parser = new LackeyParser(setup.skipped.malformed);
    const digest = setup.digest;
    this.trace = new DeferredTrace(
      setup.opts.out,
      DEFAULT_BATCH_EVENTS,
      // (Not before the replay exists: the guest's boot already emits events.)
      () => {
        const r = this.replay ? digest.poll() : undefined;
        return r ? this.header(r.sha256, r.lines) : undefined;
      },
      () => {
        if (!digest.inWorker || !this.replay) return undefined;
        const r = digest.wait();
        return this.header(r.sha256, r.lines);
      },
    );
    this.guest = setup.bootGuest(this.trace);
    this.replay = new LackeyReplay(this.guest, setup.ips);
  }

  get currentLine(): number {
    return this.parser.lines;
  }

  push(block: Buffer): void {
    this.parser.parse(block, this.accesses);
    this.replay.run(this.accesses);
  }

  end(): { header: TraceHeader; stats: Record<string, number> } {
    const { parser, replay, guest, setup } = this;
    // The worker counted every line starting with I (a skipped malformed
    // one too): its count is the capture's length when it has one.
    const scanned = setup.digest.inWorker ? setup.digest.wait() : { sha256: setup.digest.hex(), lines: parser.instructions };
    const header = this.trace.openedHeader ?? this.header(scanned.sha256, scanned.lines);
    guest.finish(header.workload.durationNs);
    const stats = {
      ...guest.kernel.statsEntries(),
      instructions: parser.instructions,
      loads: replay.loads,
      stores: replay.stores,
      modifies: replay.modifies,
      straddles: replay.straddles,
      pagesWritten: replay.pagesWritten.size,
      messageLines: parser.messageLines,
      skippedLines: setup.skipped.count,
    };
    return { header, stats };
  }

  /** The trace header, given the source's digest and its instruction count. */
  private header(sha256: string, instructions: number): TraceHeader {
    const { setup, replay } = this;
    const opts = setup.opts;
    const durationNs = replay.timeOfInstruction(instructions);
    const source = {
      format: 'lackey',
      ...sourceIdentity(opts.file, sha256, setup.fileBytes, setup.gzip),
      header: { tool: 'valgrind --tool=lackey --trace-mem=yes' },
      clock: 'instructions',
      intervalNs: LACKEY_INTERVAL_NS,
      firstTickNs: replay.startNs + LACKEY_INTERVAL_NS,
      mapping: {
        vpn: 'in order of first appearance: each source GiB (page >> 18) to the next guest GiB of user space, each source 2 MiB region to the next 2 MiB slot of it, page offset kept',
        time: `instruction count / ${setup.ips} per s, from the end of guest boot, in integer ns`,
        accesses: 'L: read; S, M: write of each page the bytes cover; I: counted only',
      },
    };
    const params = { ips: setup.ips, hz: setup.hz };
    return workloadTraceHeader(setup.guestSpec, { name: LACKEY_WORKLOAD, seed: opts.seed, durationNs, params }, { source });
  }
}

/** Cache of recent source page -> guest vpn translations (direct-mapped). */
const CACHE_SLOTS = 256;

/** The hot loop: one block's accesses into guest events. */
class LackeyReplay {
  readonly startNs: number;
  loads = 0;
  stores = 0;
  modifies = 0;
  straddles = 0;
  readonly pagesWritten = new PageSet();
  private readonly kernel: GuestKernel;
  private readonly space: ImportSpace;
  private readonly pid: number;
  private readonly nsPerInstruction: number;
  private readonly cachePage = new Float64Array(CACHE_SLOTS).fill(-1);
  private readonly cacheVpn = new Int32Array(CACHE_SLOTS);
  /** 1 once the cached page has been counted in pagesWritten. */
  private readonly cacheWritten = new Uint8Array(CACHE_SLOTS);

  constructor(
    private readonly guest: ImportGuest,
    ips: number,
  ) {
    this.kernel = guest.kernel;
    this.nsPerInstruction = 1e9 / ips;
    // The program starts once the kernel has booted: an empty address
    // space on vCPU 0, its regions mapped as it touches them.
    const t0 = guest.freeNs[0]!;
    this.space = guest.newSpace();
    guest.startWork(0, t0);
    let used = guest.create(this.space, 0, t0);
    used += guest.switchTo(this.space, 0, t0);
    guest.endWork(0, t0 + used);
    this.startNs = t0 + used;
    this.pid = this.space.guestPid;
  }

  timeOfInstruction(instr: number): number {
    return this.startNs + Math.floor(instr * this.nsPerInstruction);
  }

  run(acc: LackeyAccesses): void {
    const { kind, page, offset, size, instr } = acc;
    const kernel = this.kernel;
    const guest = this.guest;
    const ticks = guest.ticks;
    const pid = this.pid;
    const base = this.startNs;
    const nsPerInstruction = this.nsPerInstruction;
    const cachePage = this.cachePage;
    const cacheVpn = this.cacheVpn;
    const cacheWritten = this.cacheWritten;
    let nextTickNs = ticks ? ticks.nextNs : Infinity;
    let loads = 0;
    let stores = 0;
    let t = base;
    for (let i = 0; i < acc.count; i++) {
      t = base + Math.floor(instr[i]! * nsPerInstruction);
      if (t >= nextTickNs) {
        guest.endWork(0, t);
        ticks!.until(t);
        nextTickNs = ticks!.nextNs;
      }
      const k = kind[i]!;
      const write = k !== LackeyAccessKind.load;
      if (k === LackeyAccessKind.load) loads++;
      else if (k === LackeyAccessKind.store) stores++;
      const p = page[i]!;
      const off = offset[i]!;
      const bytes = size[i]!;
      let slot = p & (CACHE_SLOTS - 1);
      if (cachePage[slot] !== p) this.translate(p, slot);
      const first = off + bytes > 4096 ? 4096 - off : bytes;
      kernel.touch(pid, 0, cacheVpn[slot]!, write, t, write ? first : READ_BYTES);
      if (write && cacheWritten[slot] === 0) this.noteWritten(slot);
      if (first < bytes) {
        // Across a page boundary: the next page(s) too.
        this.straddles++;
        for (let rest = bytes - first, q = p + 1; rest > 0; rest -= 4096, q++) {
          slot = q & (CACHE_SLOTS - 1);
          if (cachePage[slot] !== q) this.translate(q, slot);
          kernel.touch(pid, 0, cacheVpn[slot]!, write, t, write ? Math.min(rest, 4096) : READ_BYTES);
          if (write && cacheWritten[slot] === 0) this.noteWritten(slot);
        }
      }
    }
    this.loads += loads;
    this.stores += stores;
    this.modifies += acc.count - loads - stores;
    guest.endWork(0, t);
  }

  /** Fills cache slot `slot` with source page `page`'s guest vpn (mapping its region on first use). */
  private translate(page: number, slot: number): void {
    const map = this.space.map;
    const vpn = map.map(page);
    if (map.newBlock) this.guest.ensureRegion(this.space, vpn);
    this.cachePage[slot] = page;
    this.cacheVpn[slot] = vpn;
    this.cacheWritten[slot] = 0;
  }

  /** Counts the page in cache slot `slot` as written. */
  private noteWritten(slot: number): void {
    this.pagesWritten.add(this.cacheVpn[slot]!);
    this.cacheWritten[slot] = 1;
  }
}
