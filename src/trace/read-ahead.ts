import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { MessageChannel, type MessagePort, receiveMessageOnPort, Worker } from 'node:worker_threads';
import type { Inflated } from './column-codec.js';
import { type FileRecord, RecordProblem } from './record-file.js';
import type { ReadAheadData, ReadAheadMessage } from './read-ahead-worker.js';

/** A record as the read-ahead thread hands it over. */
export interface AheadRecord extends FileRecord {
  readonly inflated?: Inflated[];
  readonly fileDigest?: string;
}

/**
 * Reading a trace on two threads (issue 16: trace reads at memory speed).
 * A thread of its own reads the records after the header, checks their
 * frames and CRCs, hashes the file for the footer's fileDigest, decodes
 * their msgpack and inflates their Zstandard columns (in a read on one
 * thread, Zstandard alone took a third of the time); the reader's thread
 * unpacks and checks the columns of chunk k while chunk k+1 is inflated.
 *
 * The reader stays synchronous for its callers (run, replay, inspect, the
 * fleet's shared guests read chunk by chunk in synchronous loops): it takes
 * each record with receiveMessageOnPort, and waits with Atomics.wait when
 * the thread is behind. What the thread finds wrong it posts in place of the
 * record, and the reader throws it on reaching that record, so a defect is
 * reported as and when a reader on one thread would report it: same
 * message, same exit code, and nothing after it handed on. The digest is
 * still checked at the footer, before the reader says the trace is whole.
 */
export class ReadAhead {
  private readonly worker: Worker;
  private readonly port: MessagePort;
  private readonly shared = new Int32Array(new SharedArrayBuffer(8));
  private taken = 0;

  /** Records posted ahead of the reader, at most: a few chunks' columns in memory. */
  static readonly AHEAD = 4;
  /** Files from this size up are read ahead by a thread: below, starting one costs more than it saves (measured: about 30 ms). */
  static readonly MIN_BYTES = 4 * 1024 * 1024;

  /** Whether the thread's module is there to start (not when running from the TypeScript sources). */
  static available(): boolean {
    return existsSync(fileURLToPath(WORKER_MODULE));
  }

  constructor(path: string, start: number, blockBytes: number, fileDigest: boolean) {
    const { port1, port2 } = new MessageChannel();
    this.port = port1;
    const data: Omit<ReadAheadData, 'port'> & { port: MessagePort; module: string } = {
      path,
      start,
      blockBytes,
      fileDigest,
      port: port2,
      shared: this.shared,
      ahead: ReadAhead.AHEAD,
      module: WORKER_MODULE.href,
    };
    this.worker = new Worker(BOOTSTRAP, { eval: true, workerData: data, transferList: [port2] });
    // A reader left open (a caller that stops after its first chunk) keeps no process alive.
    this.worker.unref();
  }

  /**
   * The next record, waiting for it if need be. Throws RecordProblem for a
   * defect of the file, the file system's error for a failed read, and an
   * Error for a failure of the thread itself (a bug).
   */
  next(): AheadRecord {
    for (;;) {
      const posted = Atomics.load(this.shared, 0);
      const got = receiveMessageOnPort(this.port);
      if (got) {
        Atomics.store(this.shared, 1, ++this.taken);
        Atomics.notify(this.shared, 1);
        return unpackMessage(got.message as ReadAheadMessage);
      }
      Atomics.wait(this.shared, 0, posted);
    }
  }

  close(): void {
    this.port.close();
    void this.worker.terminate();
  }
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
      return { rec: m.rec, at: m.at, totalBytes: m.totalBytes, ...(m.inflated ? { inflated: m.inflated } : {}), ...(m.fileDigest !== undefined ? { fileDigest: m.fileDigest } : {}) };
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
 * The thread's first code: loads the module and runs it, and posts any
 * failure to load it as a crash, so that the reader, waiting, hears of it.
 */
const BOOTSTRAP = `
const { workerData } = require('node:worker_threads');
import(workerData.module).then((m) => m.runReadAhead(workerData)).catch((e) => {
  workerData.port.postMessage({ t: 'crash', message: String(e && e.stack || e) });
  Atomics.store(workerData.shared, 0, Atomics.load(workerData.shared, 0) + 1);
  Atomics.notify(workerData.shared, 0);
});
`;
