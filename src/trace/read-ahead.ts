import { existsSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { fileURLToPath } from 'node:url';
import { MessageChannel, type MessagePort, receiveMessageOnPort, Worker } from 'node:worker_threads';
import { type FileRecord, RecordProblem } from './record-file.js';
import { CANCEL, type ColumnAhead, IDLE, JOBS, POSTED, type ReadAheadJob, type ReadAheadMessage, TAKEN, WAITING } from './read-ahead-worker.js';

/** A record as the read-ahead thread hands it over. */
export interface AheadRecord extends FileRecord {
  readonly columns?: ColumnAhead[];
  readonly fileDigest?: string;
}

/**
 * Reading a trace on two threads (issue 16: trace reads at memory speed).
 * A thread of its own reads the records after the header, checks their
 * frames and CRCs, hashes the file for the footer's fileDigest, decodes
 * their msgpack, and decodes their columns (Zstandard, unpacking) into
 * shared memory, column by column, until the reader waits for the chunk:
 * the reader decodes the columns left (src/trace/read-ahead-worker.ts
 * decodeChunk) and checks the chunk while the thread reads the next. So
 * the decoding is shared between the threads whichever is the slower.
 *
 * The reader stays synchronous for its callers (run, replay, inspect, the
 * fleet's shared guests read chunk by chunk in synchronous loops): it takes
 * each record with receiveMessageOnPort, and waits with Atomics.wait when
 * the thread is behind. What the thread finds wrong it posts in place of the
 * record (or, for a column, in place of its values), and the reader throws
 * it on reaching that record (or column), so a defect is reported as and
 * when a reader on one thread would report it: same message, same exit
 * code, and nothing after it handed on. The digest is still checked at the
 * footer, before the reader says the trace is whole.
 */
export class ReadAhead {
  private readonly port: MessagePort;
  private readonly shared = new Int32Array(new SharedArrayBuffer(16));
  private taken = 0;
  private thread: PooledThread | undefined;

  /** Records posted ahead of the reader, at most: a few chunks' columns in memory. */
  static readonly AHEAD = 4;
  /** Columns of a chunk the thread decodes at most before it hands the rest to the reader (all, unless a test pins the split). */
  static columnsAhead = Infinity;
  /** Files from this size up are read ahead by a thread: below, a thread's first start costs more than it saves (measured: about 30 ms). */
  static readonly MIN_BYTES = 4 * 1024 * 1024;

  /** Whether the thread's module is there to start (not when running from the TypeScript sources). */
  static available(): boolean {
    return existsSync(fileURLToPath(WORKER_MODULE));
  }

  /**
   * A thread to read `path` ahead from `start`, or undefined when every
   * thread this process may give to reading ahead is busy (another reader
   * open at the same time): that reader then reads on its own thread.
   */
  static start(path: string, start: number, blockBytes: number, fileDigest: boolean): ReadAhead | undefined {
    const thread = acquireThread();
    return thread ? new ReadAhead(thread, path, start, blockBytes, fileDigest) : undefined;
  }

  private constructor(thread: PooledThread, path: string, start: number, blockBytes: number, fileDigest: boolean) {
    const { port1, port2 } = new MessageChannel();
    this.port = port1;
    this.thread = thread;
    const job: ReadAheadJob = { path, start, blockBytes, fileDigest, port: port2, shared: this.shared, ahead: ReadAhead.AHEAD, columnsAhead: ReadAhead.columnsAhead };
    thread.jobs.postMessage(job, [port2]);
    Atomics.add(thread.state, JOBS, 1);
    Atomics.notify(thread.state, JOBS);
    dropped.register(this, { shared: this.shared, port: port1, thread }, this);
  }

  /** Read-ahead threads given to readers that have not closed (at most one per spare core). */
  static busyThreads(): number {
    return threads.filter((t) => t.busy).length;
  }

  /**
   * The next record, waiting for it if need be. Throws RecordProblem for a
   * defect of the file, the file system's error for a failed read, and an
   * Error for a failure of the thread itself (a bug).
   */
  next(): AheadRecord {
    for (;;) {
      const posted = Atomics.load(this.shared, POSTED);
      const got = receiveMessageOnPort(this.port);
      if (got) {
        Atomics.store(this.shared, TAKEN, ++this.taken);
        Atomics.notify(this.shared, TAKEN);
        const m = got.message as ReadAheadMessage;
        if (m.t === 'crash') this.thread?.worker.terminate().catch(() => {});
        if (m.t === 'crash' && this.thread) threads.splice(threads.indexOf(this.thread), 1);
        return unpackMessage(m);
      }
      Atomics.store(this.shared, WAITING, 1);
      Atomics.wait(this.shared, POSTED, posted);
      Atomics.store(this.shared, WAITING, 0);
    }
  }

  /** Lets the thread go: it drops the rest of this trace and serves the next reader. */
  close(): void {
    dropped.unregister(this);
    release({ shared: this.shared, port: this.port, thread: this.thread });
    this.thread = undefined;
  }
}

/** What lets a reader's thread go, held apart from the reader so that it can be done once the reader is gone. */
interface Lease {
  readonly shared: Int32Array;
  readonly port: MessagePort;
  readonly thread: PooledThread | undefined;
}

function release(l: Lease): void {
  Atomics.store(l.shared, CANCEL, 1);
  Atomics.notify(l.shared, TAKEN);
  l.port.close();
  if (l.thread) l.thread.busy = false;
}

/**
 * A reader dropped without close() (a caller that stopped after a few
 * chunks and let the reader go) would keep its thread waiting for room
 * forever, and no later reader could have it: once the reader is
 * collected, its thread is let go as close() would.
 */
const dropped = new FinalizationRegistry<Lease>(release);

interface PooledThread {
  readonly worker: Worker;
  readonly jobs: MessagePort;
  readonly state: Int32Array;
  /** Given to a reader that has not closed. */
  busy: boolean;
}

/** This process's read-ahead threads, started on first use and kept (unref'd) for the next trace. */
const threads: PooledThread[] = [];

/**
 * A thread free to read ahead: one that finished its last trace (waiting,
 * briefly, for it to see the reader's close), else a new one while fewer
 * than cores - 1 are busy, so that reading ahead never competes with the
 * readers themselves for the cores.
 */
function acquireThread(): PooledThread | undefined {
  for (const t of threads) {
    if (t.busy) continue;
    // A reader closed it a moment ago: the thread is at most finishing a chunk.
    if (Atomics.load(t.state, IDLE) === 0) Atomics.wait(t.state, IDLE, 0, 1000);
    if (Atomics.load(t.state, IDLE) !== 1) continue;
    Atomics.store(t.state, IDLE, 0);
    t.busy = true;
    return t;
  }
  if (ReadAhead.busyThreads() >= Math.max(1, availableParallelism() - 1)) return undefined;
  const { port1, port2 } = new MessageChannel();
  const state = new Int32Array(new SharedArrayBuffer(8));
  const worker = new Worker(BOOTSTRAP, { eval: true, workerData: { module: WORKER_MODULE.href, jobs: port2, state }, transferList: [port2] });
  // Threads waiting for work keep no process alive.
  worker.unref();
  const t: PooledThread = { worker, jobs: port1, state, busy: true };
  threads.push(t);
  return t;
}

function unpackMessage(m: ReadAheadMessage): AheadRecord {
  switch (m.t) {
    case 'rec': {
      const cols = m.rec['cols'];
      if (m.buffers && Array.isArray(cols)) {
        for (const i of m.buffers) {
          const c = cols[i] as Record<string, unknown>;
          const d = c['d'] as Uint8Array;
          c['d'] = Buffer.from(d.buffer, d.byteOffset, d.byteLength);
        }
      }
      return { rec: m.rec, at: m.at, totalBytes: m.totalBytes, ...(m.columns ? { columns: m.columns } : {}), ...(m.fileDigest !== undefined ? { fileDigest: m.fileDigest } : {}) };
    }
    case 'problem':
      throw new RecordProblem(m.problem, m.at, m.record, m.hint);
    case 'io':
      throw Object.assign(new Error(m.message), { code: m.code, ...(m.syscall ? { syscall: m.syscall } : {}), ...(m.errno !== undefined ? { errno: m.errno } : {}) });
    case 'crash':
      throw new Error(`the trace read-ahead thread failed: ${m.message}`);
  }
}

const WORKER_MODULE = new URL('./read-ahead-worker.js', import.meta.url);

/**
 * The thread's first code: loads the module and serves. A failure to load
 * it is a bug; it is posted to the reader waiting for its first record.
 *
 * The module is an ES module as tsc emits it (dist/src), or in the bundle
 * (dist/cli, scripts/bundle-cli.mjs) a CommonJS file whose
 * `module.exports = main` import() sees only as the default export (Node
 * finds CommonJS names by reading `exports.x =` lines). Reading the default
 * too: looking for the named export alone, every trace of 4 MiB or more
 * that the built migsim read failed with "the trace read-ahead thread
 * failed: TypeError: m.serveReadAhead is not a function" (exit 70).
 */
const BOOTSTRAP = `
const { workerData, receiveMessageOnPort } = require('node:worker_threads');
import(workerData.module).then((m) => (m.serveReadAhead ?? m.default.serveReadAhead)(workerData)).catch((e) => {
  for (;;) {
    const got = receiveMessageOnPort(workerData.jobs);
    if (!got) { Atomics.wait(workerData.state, 0, Atomics.load(workerData.state, 0), 1000); continue; }
    const job = got.message;
    job.port.postMessage({ t: 'crash', message: String(e && e.stack || e) });
    Atomics.store(job.shared, 0, 1);
    Atomics.notify(job.shared, 0);
    return;
  }
});
`;
