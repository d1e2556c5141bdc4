import { Int32Fifo } from '../util/int32-fifo.js';
import { GuestResourceError } from './guest-resource-error.js';
import type { GuestBatchBuilder } from '../events/guest-batch-builder.js';
import { deriveStream } from '../random/derive-stream.js';
import type { Xoshiro128 } from '../random/xoshiro128.js';
import { GuestKernel } from './guest-kernel.js';
import { TimerTicks, VcpuActivity } from './guest-cpu.js';
import { LD_SO, LIBC, library, type ProgramImage } from './guest-program.js';
import type { WorkloadConfig, WorkloadDefinition } from './workload.js';

/**
 * An Apache-like prefork web server (Apache 1.3's model, still 2.4's
 * prefork MPM): a master process and a pool of single-threaded worker
 * processes forked from it. Each request is served by one idle worker
 * (the one that has waited longest, as Linux wakes exclusive waiters in
 * order): it accepts the connection, reads the request into its request
 * pool, reads the file it serves from the file cache the master mapped at
 * startup (mod_file_cache's MMapFile, shared with every worker), writes the
 * response into socket buffers, updates its scoreboard slot (shared memory)
 * and appends a line to the access log (page cache). After
 * `maxRequestsPerChild` requests a worker exits and the master forks a
 * replacement, whose start-up writes `childInitPages` pages (copy-on-write
 * copies of the master's data and heap, its own stack and pools). Workers
 * run on whichever vCPU is free, with a context switch (cr3_load) whenever a
 * vCPU changes address space.
 *
 * Reference (real Apache 2.4 prefork, MaxConnectionsPerChild 1000,
 * KeepAlive off, ab -c 8, pages dirtied per process as a per-process
 * dirty-page capture sees them): 2,400 to 6,300 pages/s, 77-94% of one
 * 50-100 ms interval's pages dirty in the previous one too, 3-4 workers
 * forked a second, about 200 pages written by a new worker at start. The
 * defaults land there (test/workloads/apache.test.ts measures it).
 */
const HTTPD: ProgramImage = {
  path: '/usr/sbin/httpd',
  textPages: 150,
  dataPages: 4,
  bssPages: 2,
  heapPages: 4096,
  stackPages: 256,
  libraries: [
    LD_SO,
    LIBC,
    library('/lib/libpthread.so.0', 22, 1, 1),
    library('/lib/libdl.so.2', 3),
    library('/lib/libcrypt.so.1', 10, 1, 48),
    library('/usr/lib/libapr-1.so.0', 52, 1),
    library('/usr/lib/libaprutil-1.so.0', 40, 1),
    library('/lib/libpcre.so.0', 60),
    library('/lib/libexpat.so.0', 40, 2),
    library('/lib/libuuid.so.1', 4),
    ...['alias', 'auth_basic', 'authz_host', 'autoindex', 'cgi', 'dir', 'env', 'expires', 'file_cache', 'headers', 'log_config', 'mime', 'negotiation', 'rewrite', 'setenvif', 'status', 'deflate', 'ssl'].map((m) =>
      library(`/usr/lib/httpd/modules/mod_${m}.so`, m === 'ssl' ? 60 : m === 'rewrite' ? 20 : 6),
    ),
  ],
};

/** Heap pages the master writes while it reads its configuration (pools of parsed config). */
const MASTER_CONFIG_HEAP_PAGES = 768;
/** Kernel pages used as socket buffers (skb data) and TCP state, taken at random per request. */
const NET_PAGES = 64;
/**
 * Besides its request pool, a request now and then (one in SPILL_ONE_IN)
 * writes one page of a wider heap area of SPILL_PAGES pages: a larger
 * response, a module's cache, malloc handing out another free chunk. This
 * is what keeps consecutive intervals from dirtying exactly the same pages.
 */
const SPILL_PAGES = 128;
const SPILL_ONE_IN = 12;
/** Bytes of one access-log line. */
const LOG_LINE_BYTES = 120;
/** Scoreboard: a global page, then 11 worker slots (about 370 bytes each) per page; room for 256 slots. */
const SCOREBOARD_PAGES = 25;
/** The master's once-a-second idle_server_maintenance reads the scoreboard and updates its header. */
const MAINTENANCE_PERIOD_NS = 1_000_000_000;

// Per-request actions, in order.
const A_ACCEPT = 0; // kernel: accept(), the request's socket buffer
const A_STACK_TOP = 1; // user: the stack frames of the request loop
const A_READ_REQUEST = 2; // kernel reads the socket buffer, copies it into the request pool
const A_POOL = 3; // user: the request pool (apr pools, bucket brigades, headers table)
const A_FILE = 4; // user: a page of the mapped file being sent
const A_RESPONSE = 5; // kernel: copy the response into socket buffers
const A_SCOREBOARD = 6; // user: this worker's scoreboard slot
const A_LOG = 7; // user formats the log line on its stack; kernel appends it to the log
const A_CLOSE = 8; // kernel: close()
const A_YIELD = 9; // end of a phase: the next one starts a quarter of the request's CPU time later
const A_FINISH = 10; // the request is done
const A_SPILL = 11; // user: sometimes, a page of the wider heap

// Task kinds.
const T_REQUEST = 1;
const T_CHILD_INIT = 2;
const T_SPAWN = 3;
const T_MAINTENANCE = 4;

// Worker slot states.
const W_EMPTY = 0;
const W_STARTING = 1;
const W_IDLE = 2;
const W_BUSY = 3;

export const apache: WorkloadDefinition = {
  name: 'apache',
  description: 'Apache-like prefork web server: a master, a pool of forked workers, requests touching stack, heap, scoreboard, log and file cache',
  usesMmu: true,
  params: [
    { name: 'workers', kind: 'int', max: 256, default: 10, description: 'worker processes the master keeps (StartServers/MaxSpareServers); up to 256' },
    { name: 'rate', kind: 'rate', default: 3500, description: 'requests arriving per second (evenly spread, each gap drawn uniformly between 0.5x and 1.5x the mean)' },
    {
      name: 'maxRequestsPerChild',
      kind: 'int',
      default: 1000,
      description: 'requests a worker serves before it exits and the master forks a replacement (MaxConnectionsPerChild; 0: never)',
    },
    {
      name: 'pagesPerRequest',
      kind: 'int',
      default: 12,
      description: "user pages a request writes: two stack pages, its scoreboard page and the rest drawn from the worker's request pool of 3x this many heap pages",
    },
    { name: 'filePagesPerRequest', kind: 'int', default: 2, description: 'file-cache pages a request reads (the size of the file served, in pages)' },
    { name: 'fileCache', kind: 'size', default: 16 * 1024 * 1024, description: 'bytes of static content the master maps and caches at startup (MMapFile)' },
    { name: 'requestCpu', kind: 'duration', default: 120_000, description: 'CPU time one request takes in ns (user and kernel)' },
    { name: 'childInitPages', kind: 'int', default: 200, description: 'distinct pages a new worker writes while it starts (copies of the master data and heap, stack, pools)' },
  ],
  generate(config, out) {
    return new ApacheServer(config, out).run();
  },
  // What a web server's written pages hold: mostly text (request and
  // response headers in the pools, HTML and CSS in the file cache, access
  // log lines: zlib level 1 shrank JavaScript text 4.4x, page-codec.ts),
  // a fifth media (images in the file cache: already compressed), and a
  // few pages a worker has just zeroed (new pools, a fresh stack page).
  pageContents: () => ({
    zero: 0.05,
    compressible: 0.75,
    ratio: 4,
    why: 'apache: headers, HTML and log lines are text (4x), a fifth of the file cache is images (incompressible), a few freshly zeroed pool and stack pages',
  }),
};

class ApacheServer {
  private readonly kernel: GuestKernel;
  private readonly activity: VcpuActivity;
  private readonly ticks: TimerTicks;
  private readonly rngRequests: Xoshiro128;
  private readonly rngArrivals: Xoshiro128;
  private readonly durationNs: number;
  private readonly vcpus: number;
  private readonly workers: number;
  private readonly maxRequests: number;
  private readonly pagesPerRequest: number;
  private readonly filePages: number;
  private readonly fileCachePages: number;
  private readonly meanGapNs: number;
  private readonly actions: Uint8Array;
  private readonly phaseNs: number;
  private readonly poolPages: number;
  private readonly childInitPagesWanted: number;
  private readonly rngSetup: Xoshiro128;
  /** Workers of the first generation still to start. */
  private firstGeneration: number;

  private master = -1;
  private poolVpn = 0;
  private spillVpn = 0;
  private stackTopVpn = 0;
  private fileVpn = 0;
  private scoreboardVpn = 0;
  private logFile = -1;
  private netPages!: Int32Array;
  private childInitVpns!: Int32Array;

  // Worker slots.
  private readonly workerPid: Int32Array;
  private readonly workerState: Uint8Array;
  private readonly workerServed: Int32Array;
  private readonly idleWorkers: Int32Fifo;
  private backlog = 0;

  /** Runnable tasks (kind << 16 | slot) waiting for a vCPU. */
  private readonly runQueue: Int32Fifo;

  // Per vCPU: the task it runs, the step it is at and when.
  private readonly vcpuTask: Int32Array;
  private readonly vcpuStep: Int32Array;
  private readonly vcpuNextNs: Float64Array;
  private readonly vcpuRequestFile: Int32Array;

  private requests = 0;
  private spawned = 0;
  private exited = 0;

  constructor(
    config: WorkloadConfig,
    private readonly out: GuestBatchBuilder,
  ) {
    const p = config.params;
    this.durationNs = config.durationNs;
    this.vcpus = config.vcpus;
    this.workers = Math.max(1, Math.min(256, Number(p['workers'])));
    this.maxRequests = Number(p['maxRequestsPerChild']);
    this.pagesPerRequest = Math.max(4, Number(p['pagesPerRequest']));
    this.filePages = Math.max(0, Number(p['filePagesPerRequest']));
    this.fileCachePages = Math.max(this.filePages, Math.floor(Number(p['fileCache']) / 4096));
    const rate = Number(p['rate']);
    this.meanGapNs = rate > 0 ? Math.max(2, Math.round(1e9 / rate)) : Infinity;
    this.poolPages = 3 * this.pagesPerRequest;

    // Four phases of a request, each a burst of accesses at one instant:
    // accept and read the request, build the response in the pool, send
    // the file, then log and close. A phase ends at A_YIELD.
    const acts: number[] = [A_ACCEPT, A_STACK_TOP, A_READ_REQUEST, A_YIELD];
    for (let i = 0; i < this.pagesPerRequest - 4; i++) acts.push(A_POOL);
    acts.push(A_SPILL, A_YIELD);
    for (let i = 0; i < this.filePages; i++) acts.push(A_FILE);
    acts.push(A_RESPONSE, A_YIELD, A_SCOREBOARD, A_LOG, A_CLOSE, A_YIELD, A_FINISH);
    this.actions = Uint8Array.from(acts);
    this.phaseNs = Math.max(1, Math.floor(Number(p['requestCpu']) / 4));

    this.kernel = new GuestKernel(config, out);
    this.activity = new VcpuActivity(out, this.vcpus);
    this.ticks = new TimerTicks(this.kernel, this.activity, 250, 0);
    this.rngRequests = deriveStream(config.seed, 'apache/requests');
    this.rngArrivals = deriveStream(config.seed, 'apache/arrivals');
    this.workerPid = new Int32Array(this.workers).fill(-1);
    this.workerState = new Uint8Array(this.workers);
    this.workerServed = new Int32Array(this.workers);
    this.idleWorkers = new Int32Fifo(this.workers, 'apache: idle worker queue');
    this.runQueue = new Int32Fifo(4 * this.workers + 16, 'apache: run queue');
    this.vcpuTask = new Int32Array(this.vcpus);
    this.vcpuStep = new Int32Array(this.vcpus);
    this.vcpuNextNs = new Float64Array(this.vcpus);
    this.vcpuRequestFile = new Int32Array(this.vcpus);
    this.childInitPagesWanted = Math.max(8, Number(p['childInitPages']));
    this.rngSetup = deriveStream(config.seed, 'apache/setup');
    this.firstGeneration = this.workers;
  }

  run(): Record<string, number> {
    const startNs = this.startMaster();
    this.ticks.nextNs = startNs;
    for (let s = 0; s < this.workers; s++) {
      this.workerState[s] = W_STARTING;
      this.enqueue((T_SPAWN << 16) | s, startNs);
    }
    let arrivalNs = this.meanGapNs === Infinity ? Infinity : startNs + 1_000_000;
    let maintenanceNs = startNs + MAINTENANCE_PERIOD_NS;
    const vcpus = this.vcpus;
    const duration = this.durationNs;
    const next = this.vcpuNextNs;
    const task = this.vcpuTask;
    let otherNs = Math.min(arrivalNs, this.ticks.nextNs, maintenanceNs);
    for (;;) {
      // The vCPU due first, and when the one after it is due.
      let v = -1;
      let tv = Infinity;
      let t2 = Infinity;
      for (let i = 0; i < vcpus; i++) {
        if (task[i] === 0) continue;
        const x = next[i]!;
        if (x < tv) {
          t2 = tv;
          tv = x;
          v = i;
        } else if (x < t2) t2 = x;
      }
      if (otherNs <= tv) {
        if (otherNs > duration) break;
        if (this.ticks.nextNs === otherNs) this.ticks.until(otherNs);
        else if (arrivalNs === otherNs) {
          this.arrive(arrivalNs);
          arrivalNs += (this.meanGapNs >> 1) + this.rngArrivals.below(this.meanGapNs + 1);
        } else {
          this.enqueue(T_MAINTENANCE << 16, maintenanceNs);
          maintenanceNs += MAINTENANCE_PERIOD_NS;
        }
        otherNs = Math.min(arrivalNs, this.ticks.nextNs, maintenanceNs);
        continue;
      }
      if (tv > duration) break;
      // Run vCPU v until another vCPU or source is due.
      let limit = t2 < otherNs ? t2 : otherNs;
      if (limit > duration) limit = duration + 1;
      if (task[v]! >>> 16 === T_REQUEST) this.runRequest(v, limit);
      else {
        do this.stepOther(v);
        while (task[v] !== 0 && task[v]! >>> 16 !== T_REQUEST && next[v]! < limit);
      }
    }
    this.ticks.until(duration);
    this.activity.finish(duration);
    return {
      ...this.kernel.statsEntries(),
      requests: this.requests,
      workersForked: this.spawned,
      workersExited: this.exited,
      backlog: this.backlog,
    };
  }

  /** The master starts: exec, configuration, scoreboard, log, file cache. Returns when it is ready. */
  private startMaster(): number {
    const k = this.kernel;
    const rng = this.rngSetup;
    k.loadImage(0);
    let t = k.boot(0, this.out.nowNs);
    this.netPages = k.allocKernelPages(NET_PAGES);
    const m = k.createProcess(0, t);
    this.master = m;
    t = k.switchTo(0, m, k.endNs);
    t = k.exec(m, 0, HTTPD, t);
    const l = k.layoutOf(m);
    this.stackTopVpn = l.stackVpn + l.stackPages - 1;
    // ld.so relocates every library and the program: their data and bss are written.
    for (const seg of [l, ...l.libraries]) {
      for (let i = 0; i < Math.min(seg.textPages, 8); i++) t = k.touch(m, 0, seg.textVpn + rng.below(seg.textPages), false, t) + 200;
      for (let i = 0; i < seg.dataPages; i++) t = k.touch(m, 0, seg.dataVpn + i, true, t) + 200;
      for (let i = 0; i < seg.bssPages; i++) t = k.touch(m, 0, seg.bssVpn + i, true, t) + 200;
    }
    for (let i = 0; i < 16; i++) t = k.touch(m, 0, l.stackVpn + l.stackPages - 1 - i, true, t) + 200;
    // Parsing the configuration fills the master's pools.
    if (MASTER_CONFIG_HEAP_PAGES + this.poolPages + SPILL_PAGES > l.heapPages) {
      throw new GuestResourceError(
        `apache: the request pool (3 x pagesPerRequest = ${this.poolPages} pages) does not fit the worker heap (${l.heapPages - MASTER_CONFIG_HEAP_PAGES - SPILL_PAGES} pages free); ask for fewer pagesPerRequest`,
      );
    }
    for (let i = 0; i < MASTER_CONFIG_HEAP_PAGES; i++) t = k.touch(m, 0, l.heapVpn + i, true, t) + 500;
    this.poolVpn = l.heapVpn + MASTER_CONFIG_HEAP_PAGES;
    this.spillVpn = this.poolVpn + this.poolPages;
    // The scoreboard: shared anonymous memory, cleared by the master.
    const sb = k.createShmem('apache-scoreboard', SCOREBOARD_PAGES);
    this.scoreboardVpn = k.mapShared(m, sb);
    for (let i = 0; i < SCOREBOARD_PAGES; i++) t = k.touch(m, 0, this.scoreboardVpn + i, true, t) + 1000;
    this.logFile = k.openFile('/var/log/httpd/access_log', 1);
    // MMapFile: the content is mapped shared read-only and read in from disk.
    const docroot = k.openFile('/var/www/html', this.fileCachePages);
    this.fileVpn = k.mapFile(m, docroot, 0, this.fileCachePages, false, true);
    for (let i = 0; i < this.fileCachePages; i++) t = k.touch(m, 0, this.fileVpn + i, false, t) + 100;
    // What every new worker writes while it starts (child_main's init path): the
    // same pages each time, so they are fixed here.
    const initSet = new Set<number>();
    for (let i = 0; i < 8; i++) initSet.add(l.stackVpn + l.stackPages - 1 - i);
    for (const seg of [l, ...l.libraries]) {
      for (let i = 0; i < seg.dataPages; i++) initSet.add(seg.dataVpn + i);
      for (let i = 0; i < seg.bssPages; i++) initSet.add(seg.bssVpn + i);
    }
    for (let i = 0; i < this.poolPages; i++) initSet.add(this.poolVpn + i);
    initSet.add(this.scoreboardVpn); // the header; the slot page follows
    while (initSet.size < this.childInitPagesWanted && initSet.size < MASTER_CONFIG_HEAP_PAGES) {
      initSet.add(l.heapVpn + rng.below(MASTER_CONFIG_HEAP_PAGES));
    }
    this.childInitVpns = Int32Array.from([...initSet].slice(0, this.childInitPagesWanted));
    this.activity.busyUntil(0, t);
    return t;
  }

  /** A connection arrives: the longest-waiting idle worker takes it, or it waits in the listen queue. */
  private arrive(tNs: number): void {
    if (this.idleWorkers.size === 0) {
      this.backlog++;
      return;
    }
    const slot = this.idleWorkers.shift();
    this.workerState[slot] = W_BUSY;
    this.enqueue((T_REQUEST << 16) | slot, tNs);
  }

  /** A worker is ready to accept: it takes a waiting connection or joins the idle queue. */
  private workerReady(slot: number, tNs: number): void {
    if (this.backlog > 0) {
      this.backlog--;
      this.workerState[slot] = W_BUSY;
      this.enqueue((T_REQUEST << 16) | slot, tNs);
      return;
    }
    this.workerState[slot] = W_IDLE;
    this.idleWorkers.push(slot);
  }

  /** Makes a task runnable at `tNs`: on an idle vCPU at once, else at the back of the run queue. */
  private enqueue(code: number, tNs: number): void {
    for (let v = 0; v < this.vcpus; v++) {
      if (this.vcpuTask[v] === 0) {
        this.start(v, code, tNs);
        return;
      }
    }
    this.runQueue.push(code);
  }

  private start(v: number, code: number, tNs: number): void {
    this.vcpuTask[v] = code;
    this.vcpuStep[v] = 0;
    this.vcpuNextNs[v] = tNs;
  }

  /** The vCPU's task is done at `tNs`: it takes the next runnable task, or goes idle. */
  private done(v: number, tNs: number): void {
    if (this.runQueue.size > 0) this.start(v, this.runQueue.shift(), tNs);
    else this.vcpuTask[v] = 0;
    this.activity.busyUntil(v, tNs);
  }

  /**
   * Runs vCPU v's request phase by phase: the phase due now, then the next
   * ones while they are due before `limit`. Everything a phase emits is at
   * the phase's own time (another vCPU may have events due right after
   * it); what the phase costs only delays this vCPU's next phase.
   */
  private runRequest(v: number, limit: number): void {
    const k = this.kernel;
    const rng = this.rngRequests;
    const actions = this.actions;
    const net = this.netPages;
    const slot = this.vcpuTask[v]! & 0xffff;
    const pid = this.workerPid[slot]!;
    let t = this.vcpuNextNs[v]!;
    let s = this.vcpuStep[v]!;
    let end = t;
    for (;;) {
      switch (actions[s++]) {
        case A_ACCEPT:
          if (k.currentOn(v) !== pid) end = k.switchTo(v, pid, t);
          k.kernelWrite(v, net[rng.below(NET_PAGES)]!, 512, t);
          this.vcpuRequestFile[v] = rng.below(this.fileCachePages - this.filePages + 1);
          break;
        case A_STACK_TOP:
          end = Math.max(end, k.touch(pid, v, this.stackTopVpn, true, t));
          break;
        case A_READ_REQUEST:
          k.kernelRead(v, net[rng.below(NET_PAGES)]!, t);
          end = Math.max(end, k.touch(pid, v, this.poolVpn, true, t, 512));
          break;
        case A_POOL:
          end = Math.max(end, k.touch(pid, v, this.poolVpn + 1 + rng.below(this.poolPages - 1), true, t));
          break;
        case A_SPILL:
          if (rng.below(SPILL_ONE_IN) === 0) end = Math.max(end, k.touch(pid, v, this.spillVpn + rng.below(SPILL_PAGES), true, t));
          break;
        case A_FILE:
          end = Math.max(end, k.touch(pid, v, this.fileVpn + this.vcpuRequestFile[v]!++, false, t));
          break;
        case A_RESPONSE:
          k.kernelWrite(v, net[rng.below(NET_PAGES)]!, 4096, t);
          break;
        case A_SCOREBOARD:
          end = Math.max(end, k.touch(pid, v, this.scoreboardVpn + 1 + ((slot / 11) | 0), true, t, 64));
          break;
        case A_LOG:
          end = Math.max(end, k.touch(pid, v, this.stackTopVpn - 1, true, t));
          end = Math.max(end, k.appendFile(v, this.logFile, LOG_LINE_BYTES, t));
          break;
        case A_CLOSE:
          k.kernelWrite(v, net[rng.below(NET_PAGES)]!, 256, t);
          break;
        case A_YIELD:
          t = end + this.phaseNs;
          end = t;
          if (t >= limit) {
            this.vcpuStep[v] = s;
            this.vcpuNextNs[v] = t;
            this.activity.busyUntil(v, t);
            return;
          }
          break;
        default:
          this.finishRequest(v, slot, pid, t);
          return;
      }
    }
  }

  /** Runs the next step of vCPU v's task other than a request. */
  private stepOther(v: number): void {
    const code = this.vcpuTask[v]!;
    const kind = code >>> 16;
    const slot = code & 0xffff;
    const t = this.vcpuNextNs[v]!;
    const s = this.vcpuStep[v]!;
    const k = this.kernel;
    let end = t;
    if (kind === T_CHILD_INIT) {
      const pid = this.workerPid[slot]!;
      const vpns = this.childInitVpns;
      if (s === 0) end = k.switchTo(v, pid, t);
      if (s < vpns.length) {
        end = Math.max(end, k.touch(pid, v, vpns[s]!, true, t));
        this.advance(v, s, end + 300);
        return;
      }
      // The slot's own scoreboard page, then the worker waits in accept().
      end = k.touch(pid, v, this.scoreboardVpn + 1 + ((slot / 11) | 0), true, t, 64);
      // The first workers start as in a server that has run for a while:
      // each has already served a random share of its requests, so exits
      // are spread out instead of all falling due together.
      this.workerServed[slot] = this.firstGeneration > 0 && this.maxRequests > 0 ? this.rngSetup.below(this.maxRequests) : 0;
      if (this.firstGeneration > 0) this.firstGeneration--;
      this.workerReady(slot, end);
      this.done(v, end + 2_000);
      return;
    }
    if (kind === T_SPAWN) {
      end = k.switchTo(v, this.master, t);
      const child = k.fork(this.master, v, t);
      end += k.endNs - t;
      this.workerPid[slot] = child;
      this.spawned++;
      this.done(v, end);
      this.enqueue((T_CHILD_INIT << 16) | slot, end);
      return;
    }
    // T_MAINTENANCE: the master walks the scoreboard and stamps its header.
    if (s < SCOREBOARD_PAGES) {
      if (s === 0) end = k.switchTo(v, this.master, t);
      end = Math.max(end, k.touch(this.master, v, this.scoreboardVpn + s, s === 0, t));
      this.advance(v, s, end + 200);
      return;
    }
    this.done(v, t);
  }

  private advance(v: number, s: number, nextNs: number): void {
    this.vcpuStep[v] = s + 1;
    this.vcpuNextNs[v] = nextNs;
    this.activity.busyUntil(v, nextNs);
  }

  private finishRequest(v: number, slot: number, pid: number, endNs: number): void {
    this.requests++;
    const served = ++this.workerServed[slot]!;
    if (this.maxRequests > 0 && served >= this.maxRequests) {
      const t = this.kernel.exit(pid, v, endNs);
      this.exited++;
      this.workerPid[slot] = -1;
      this.workerState[slot] = W_EMPTY;
      this.done(v, t);
      // SIGCHLD: the master reaps it and forks a replacement into the slot.
      this.workerState[slot] = W_STARTING;
      this.enqueue((T_SPAWN << 16) | slot, t);
      return;
    }
    this.workerReady(slot, endNs);
    this.done(v, endNs);
  }
}
