import { closeSync, openSync, readSync } from 'node:fs';
import { createRequire } from 'node:module';
import { withPath } from '../util/io-error.js';

// node:stream and node:zlib (3-5 ms to load together) only for a gzip
// capture: the CLI's main file holds this module (import's options name
// its errors), so a top-level import made every command load them.
type Stream = typeof import('node:stream');
type Zlib = typeof import('node:zlib');
const nodeRequire = createRequire(import.meta.url);

/**
 * Streams a text capture as blocks of whole lines, in bounded memory, gzip
 * or not (told apart by gzip's magic bytes 1f 8b, not by the name). Parsers
 * work on the bytes of a block directly: no string per line, no split, no
 * regex, which is what lets a multi-gigabyte valgrind log go through at
 * hundreds of MB/s.
 *
 * Memory: one read buffer, zlib's window, and the longest line (a line that
 * spans reads is carried over whole). A line longer than `maxLineBytes`
 * stops the read with a LineTooLongError rather than eat memory.
 */
export interface LineBlockOptions {
  /** Bytes read from the file at a time (default 1 MiB). */
  readonly readBytes?: number;
  /** Longest line accepted (default 256 MiB). */
  readonly maxLineBytes?: number;
  /** Sees every byte of the file as stored (compressed or not), in order: for its digest. */
  readonly onRawBytes?: (bytes: Uint8Array) => void;
}

const GZIP_MAGIC_0 = 0x1f;
const GZIP_MAGIC_1 = 0x8b;
const NEWLINE = 10;
const CARRIAGE_RETURN = 13;
const NO_BLOCKS: Buffer[] = [];
const NEWLINE_BYTE = Buffer.from([NEWLINE]);

export class LineTooLongError extends Error {
  override readonly name = 'LineTooLongError';
  constructor(readonly maxLineBytes: number) {
    super(`a line is longer than ${maxLineBytes.toLocaleString('en-US')} bytes`);
  }
}

/** The file could not be decompressed (a truncated or damaged gzip stream). */
export class CaptureDecodeError extends Error {
  override readonly name = 'CaptureDecodeError';
}

/** True when the file starts with gzip's magic bytes. */
export function isGzipFile(path: string): boolean {
  const fd = openSync(path, 'r');
  try {
    const head = Buffer.alloc(2);
    let n: number;
    try {
      n = readSync(fd, head, 0, 2, 0);
    } catch (e) {
      throw withPath(e, path, 'read');
    }
    return n === 2 && head[0] === GZIP_MAGIC_0 && head[1] === GZIP_MAGIC_1;
  } finally {
    closeSync(fd);
  }
}

/**
 * Yields the file's content as blocks of whole lines, each block ending
 * with a newline (a last line without one is given one), so parsers can
 * use the newline as a sentinel. A block is valid until the next one is
 * asked for: copy what you keep.
 */
export async function* lineBlocks(path: string, options: LineBlockOptions = {}): AsyncGenerator<Buffer> {
  const readBytes = options.readBytes ?? 1024 * 1024;
  const gzip = isGzipFile(path);
  const blocks = new BlockAssembler(options.maxLineBytes ?? 256 * 1024 * 1024);
  const source: AsyncIterable<Buffer> | Iterable<Buffer> = gzip
    ? gunzipped(rawChunks(path, readBytes, true, options.onRawBytes), readBytes)
    : rawChunks(path, readBytes, false, options.onRawBytes);
  try {
    for await (const chunk of source) for (const block of blocks.push(chunk)) yield block;
  } catch (e) {
    if (gzip && isZlibError(e)) {
      throw new CaptureDecodeError(`not a valid gzip stream (${(e as Error).message}); the file may be truncated or damaged`);
    }
    throw e;
  }
  const last = blocks.end();
  if (last) yield last;
}

/**
 * The same, synchronously, for a capture that is not compressed (zlib
 * streams only asynchronously): what a synchronous caller such as the
 * benchmark uses. A gzip file is a CaptureDecodeError here.
 */
export function* lineBlocksSync(path: string, options: LineBlockOptions = {}): Generator<Buffer> {
  if (isGzipFile(path)) throw new CaptureDecodeError('a gzip capture is read asynchronously (importRtdirty / importLackey), not by the synchronous importer');
  const blocks = new BlockAssembler(options.maxLineBytes ?? 256 * 1024 * 1024);
  for (const chunk of rawChunks(path, options.readBytes ?? 1024 * 1024, false, options.onRawBytes)) for (const block of blocks.push(chunk)) yield block;
  const last = blocks.end();
  if (last) yield last;
}

/**
 * Cuts a stream of chunks into blocks of whole lines: the part of a chunk
 * after its last newline is carried (copied) into the next block.
 */
class BlockAssembler {
  private readonly carry: Buffer[] = [];
  private carryBytes = 0;

  constructor(private readonly maxLineBytes: number) {}

  /**
   * The blocks of whole lines this chunk completes: the carried line's
   * end (a small copy) and the rest of the chunk's whole lines (no copy).
   */
  push(chunk: Buffer): Buffer[] {
    const last = chunk.lastIndexOf(NEWLINE);
    if (last < 0) {
      this.carry.push(Buffer.from(chunk));
      this.carryBytes += chunk.length;
      if (this.carryBytes > this.maxLineBytes) throw new LineTooLongError(this.maxLineBytes);
      return NO_BLOCKS;
    }
    const blocks: Buffer[] = [];
    let from = 0;
    if (this.carryBytes > 0) {
      const first = chunk.indexOf(NEWLINE);
      if (this.carryBytes + first > this.maxLineBytes) throw new LineTooLongError(this.maxLineBytes);
      this.carry.push(chunk.subarray(0, first + 1));
      blocks.push(Buffer.concat(this.carry));
      this.carry.length = 0;
      this.carryBytes = 0;
      from = first + 1;
    }
    if (from < last + 1) blocks.push(chunk.subarray(from, last + 1));
    if (last + 1 < chunk.length) {
      // Copied: the chunk's buffer is reused for the next read.
      this.carry.push(Buffer.from(chunk.subarray(last + 1)));
      this.carryBytes = chunk.length - last - 1;
    }
    return blocks;
  }

  /** The file's last line, when it has no newline: given one, so every block ends with a newline. */
  end(): Buffer | undefined {
    if (this.carryBytes === 0) return undefined;
    this.carry.push(NEWLINE_BYTE);
    const block = Buffer.concat(this.carry);
    this.carry.length = 0;
    this.carryBytes = 0;
    return block;
  }
}

/**
 * Splits blocks of whole lines into lines: `onLine(buf, start, end, lineNo)`
 * for each, `end` excluding the newline and a carriage return before it;
 * line numbers start at 1.
 */
export class LineSplitter {
  /** Lines seen so far. */
  lines = 0;

  constructor(private readonly onLine: (buf: Buffer, start: number, end: number, lineNo: number) => void) {}

  push(block: Buffer): void {
    let pos = 0;
    const len = block.length;
    while (pos < len) {
      let nl = block.indexOf(NEWLINE, pos);
      if (nl < 0) nl = len;
      let end = nl;
      if (end > pos && block[end - 1] === CARRIAGE_RETURN) end--;
      this.onLine(block, pos, end, ++this.lines);
      pos = nl + 1;
    }
  }
}

/** The file's bytes, read synchronously into one reused buffer (fresh buffers when `fresh`). */
function* rawChunks(path: string, readBytes: number, fresh: boolean, onRaw?: (b: Uint8Array) => void): Generator<Buffer> {
  const fd = openSync(path, 'r');
  try {
    let buf = Buffer.allocUnsafe(readBytes);
    for (;;) {
      if (fresh) buf = Buffer.allocUnsafe(readBytes);
      let n: number;
      try {
        n = readSync(fd, buf, 0, readBytes, null);
      } catch (e) {
        // A read by descriptor names no file: the user is told which.
        throw withPath(e, path, 'read');
      }
      if (n === 0) return;
      const chunk = buf.subarray(0, n);
      onRaw?.(chunk);
      yield chunk;
    }
  } finally {
    closeSync(fd);
  }
}

function gunzipped(raw: Iterable<Buffer>, chunkBytes: number): AsyncIterable<Buffer> {
  const { Readable, pipeline } = nodeRequire('node:stream') as Stream;
  const gunzip = (nodeRequire('node:zlib') as Zlib).createGunzip({ chunkSize: Math.max(64, Math.min(chunkBytes, 1024 * 1024)) });
  // pipeline destroys every stage on a failure, so the loop reading
  // `gunzip` sees the error instead of waiting forever.
  pipeline(Readable.from(raw, { objectMode: false }), gunzip, () => {});
  return gunzip;
}

function isZlibError(e: unknown): boolean {
  const code = (e as NodeJS.ErrnoException | undefined)?.code;
  return typeof code === 'string' && code.startsWith('Z_');
}
