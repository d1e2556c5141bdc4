import { createHash, type Hash } from 'node:crypto';
import { statSync } from 'node:fs';
import { Worker } from 'node:worker_threads';
import { withPath } from '../util/io-error.js';

/**
 * The sha256 of a capture file as stored, for the trace header, and
 * optionally the number of lines that start with a given byte (a lackey
 * log's instruction count, which gives the capture's length).
 *
 * Hashing runs at about 0.9 GB/s: for a multi-gigabyte valgrind log that
 * is a good part of the import, so a large file is scanned by a worker
 * thread reading the file on its own while the importer parses it. The
 * main thread asks for the result with Atomics.wait (so synchronous and
 * asynchronous importers both work), usually long after it is ready. A
 * small file is hashed inline, from the bytes the importer reads, which
 * saves starting a thread; its line count is then the importer's to make.
 */
export interface SourceScanResult {
  readonly sha256: string;
  /** Lines starting with the byte asked for (-1 when scanned inline). */
  readonly lines: number;
}

export class SourceDigest {
  private readonly inline: Hash | undefined;
  private readonly shared: Int32Array | undefined;
  private readonly worker: Worker | undefined;
  private result: SourceScanResult | undefined;

  /** Files from this size up are scanned by a worker thread. */
  static readonly WORKER_MIN_BYTES = 8 * 1024 * 1024;

  /** `fileBytes`: the file's size as stored, when the caller already has it (`auto` decides on it). */
  constructor(
    readonly path: string,
    options: { mode?: 'auto' | 'inline' | 'worker'; countLinesStartingWith?: number; gzip?: boolean; fileBytes?: number } = {},
  ) {
    const mode = options.mode ?? 'auto';
    const useWorker = mode === 'worker' || (mode === 'auto' && (options.fileBytes ?? statSync(path).size) >= SourceDigest.WORKER_MIN_BYTES);
    if (!useWorker) {
      this.inline = createHash('sha256');
      return;
    }
    // [0]: 0 running, 1 done, 2 failed; [1], [2]: the line count (low, high
    // 26 bits); then the hex digest or the error, one char per int.
    this.shared = new Int32Array(new SharedArrayBuffer(4 * 1027));
    this.worker = new Worker(WORKER_SOURCE, {
      eval: true,
      workerData: { path, shared: this.shared, lineByte: options.countLinesStartingWith ?? -1, gzip: options.gzip ?? false },
    });
    this.worker.unref();
  }

  /** True when a worker thread does the scan (its result includes the line count). */
  get inWorker(): boolean {
    return this.worker !== undefined;
  }

  /** The importer's bytes, as read (used only when hashing inline). */
  readonly update = (bytes: Uint8Array): void => {
    this.inline?.update(bytes);
  };

  /** The result if the worker has finished, without waiting (undefined when inline). */
  poll(): SourceScanResult | undefined {
    if (!this.shared || Atomics.load(this.shared, 0) === 0) return undefined;
    return this.wait();
  }

  /** Waits for the worker's result (throws if it failed). Not for inline digests. */
  wait(): SourceScanResult {
    if (this.result) return this.result;
    const shared = this.shared!;
    while (Atomics.load(shared, 0) === 0) Atomics.wait(shared, 0, 0, 1000);
    let text = '';
    for (let i = 3; i < shared.length && shared[i] !== 0; i++) text += String.fromCharCode(shared[i]!);
    void this.worker!.terminate();
    if (Atomics.load(shared, 0) === 2) {
      // The worker's read failed (the file system's error, its code first):
      // the user's file, not a bug, so it is reported naming the file.
      const code = /^(E[A-Z]+) /.exec(text)?.[1];
      if (code) throw withPath(Object.assign(new Error(text), { code }), this.path, 'read');
      throw new Error(`reading ${this.path} to digest it failed: ${text}`);
    }
    this.result = { sha256: text, lines: (shared[1]! >>> 0) + shared[2]! * 4294967296 };
    return this.result;
  }

  /** The hex digest (waits for the worker if there is one). */
  hex(): string {
    if (this.inline) return this.inline.digest('hex');
    return this.wait().sha256;
  }

  /** Stops the worker, if any (after a failed import). */
  dispose(): void {
    void this.worker?.terminate();
  }
}

/**
 * The worker: reads the file (decompressing a gzip one to count its lines),
 * hashes the stored bytes, counts the lines that start with `lineByte`,
 * and posts the result through shared memory.
 */
const WORKER_SOURCE = `
const { workerData } = require('node:worker_threads');
const { createHash } = require('node:crypto');
const { openSync, readSync, closeSync, createReadStream } = require('node:fs');
const { createGunzip } = require('node:zlib');
const shared = workerData.shared;
const lineByte = workerData.lineByte;
function post(state, text, lines) {
  for (let i = 0; i < text.length && i + 3 < shared.length; i++) shared[i + 3] = text.charCodeAt(i);
  shared[1] = lines % 4294967296 | 0;
  shared[2] = Math.floor(lines / 4294967296);
  Atomics.store(shared, 0, state);
  Atomics.notify(shared, 0);
}
let lines = 0;
let atLineStart = true;
function count(b) {
  if (lineByte < 0) return;
  const len = b.length;
  if (len === 0) return;
  let n = 0;
  if (atLineStart && b[0] === lineByte) n++;
  // Newlines found a word at a time (the has-zero-byte trick on w ^ 0x0a0a0a0a),
  // bytes looked at only in the words that hold one.
  let i = 0;
  while (i < len && ((b.byteOffset + i) & 3) !== 0) {
    if (b[i] === 10 && b[i + 1] === lineByte) n++;
    i++;
  }
  const words = (len - i) >> 2;
  const u32 = new Int32Array(b.buffer, b.byteOffset + i, words);
  for (let k = 0; k < words; k++) {
    const x = u32[k] ^ 0x0a0a0a0a;
    if (((x - 0x01010101) & ~x & 0x80808080) !== 0) {
      const at = i + (k << 2);
      if (b[at] === 10 && b[at + 1] === lineByte) n++;
      if (b[at + 1] === 10 && b[at + 2] === lineByte) n++;
      if (b[at + 2] === 10 && b[at + 3] === lineByte) n++;
      if (b[at + 3] === 10 && b[at + 4] === lineByte) n++;
    }
  }
  for (let j = i + (words << 2); j < len; j++) if (b[j] === 10 && b[j + 1] === lineByte) n++;
  atLineStart = b[len - 1] === 10;
  lines += n;
}
async function main() {
  const h = createHash('sha256');
  if (!workerData.gzip || lineByte < 0) {
    const fd = openSync(workerData.path, 'r');
    const buf = Buffer.allocUnsafe(4 * 1024 * 1024);
    for (;;) {
      const n = readSync(fd, buf, 0, buf.length, null);
      if (n === 0) break;
      const chunk = buf.subarray(0, n);
      h.update(chunk);
      count(chunk);
    }
    closeSync(fd);
  } else {
    const raw = createReadStream(workerData.path, { highWaterMark: 4 * 1024 * 1024 });
    raw.on('data', (c) => h.update(c));
    const gunzip = raw.pipe(createGunzip({ chunkSize: 1024 * 1024 }));
    raw.on('error', (e) => gunzip.destroy(e));
    for await (const chunk of gunzip) count(chunk);
  }
  post(1, h.digest('hex'), lines);
}
main().catch((e) => post(2, (e && e.code ? e.code + ' ' : '') + String((e && e.message) || e), 0));
`;
