import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';

/**
 * Zstandard decompression of trace columns: zstd's own decoder
 * (lib/decompress/zstd_decompress.c, ZSTD_decompress), compiled to
 * WebAssembly by the zstddec package, driven into memory allocated once
 * per thread and reused for every column.
 *
 * Why not the native binding the writer uses (@toondepauw/node-zstd): its
 * decodeSync builds a streaming decoder per call (ZSTD_createDStream, a
 * 512 KiB window buffer for our frames) and grows a fresh output vector
 * by doubling, so each column paid fresh pages and copies: measured on
 * the frames of 60 s of apache (534 frames, 12.7 MB to 33.8 MB), 160 MB/s
 * against 570 MB/s here and about 850 MB/s for the zstd CLI (same
 * machine, CPU time). The decoder is the reference one, so any frame the
 * writer's zstd produces decodes to the same bytes (test/trace/
 * zstd-inflater.test.ts holds it against the binding).
 *
 * The package exposes the module only inside its own loader (base64 in
 * its ES module, instantiated asynchronously); the reader is synchronous,
 * so the bytes are read from that file and compiled here, once per
 * thread. The version is pinned exactly in package.json.
 */
/** The few WebAssembly globals used (tsconfig's lib is ES2022 alone, which does not declare them). */
declare namespace WebAssembly {
  class Module {
    constructor(bytes: Uint8Array);
  }
  class Instance {
    constructor(module: Module, imports: Record<string, Record<string, unknown>>);
    readonly exports: Record<string, unknown>;
  }
  interface Memory {
    readonly buffer: ArrayBuffer;
  }
}

interface ZstdExports {
  readonly memory: WebAssembly.Memory;
  malloc(n: number): number;
  free(p: number): void;
  ZSTD_decompress(dst: number, dstCapacity: number, src: number, srcSize: number): number;
  ZSTD_isError(code: number): number;
}

/** The inflated bytes, or zstd's error (code and words, lib/common/error_private.c ERR_getErrorString). */
export type InflateResult = Uint8Array | { readonly error: string };

export class ZstdInflater {
  private readonly x: ZstdExports;
  private heap: Uint8Array;
  private src = 0;
  private srcCap = 0;
  private dst = 0;
  private dstCap = 0;

  constructor() {
    const instance = new WebAssembly.Instance(zstdModule(), {
      // malloc grew the memory: views of the old buffer are detached.
      env: { emscripten_notify_memory_growth: () => (this.heap = new Uint8Array(this.x.memory.buffer)) },
    });
    this.x = instance.exports as unknown as ZstdExports;
    this.heap = new Uint8Array(this.x.memory.buffer);
  }

  /**
   * Inflates one Zstandard frame into at most `capacity` bytes. The bytes
   * returned are a view of this inflater's memory, valid until its next
   * call: copy them to keep them.
   */
  inflate(z: Uint8Array, capacity: number): InflateResult {
    if (z.length > this.srcCap) this.src = this.grow(this.src, (this.srcCap = Math.max(z.length, 2 * this.srcCap, 64 * 1024)));
    if (capacity > this.dstCap) this.dst = this.grow(this.dst, (this.dstCap = Math.max(capacity, 2 * this.dstCap, 256 * 1024)));
    this.heap.set(z, this.src);
    const n = this.x.ZSTD_decompress(this.dst, capacity, this.src, z.length);
    if (this.x.ZSTD_isError(n)) return { error: zstdErrorName(-n) };
    return this.heap.subarray(this.dst, this.dst + n);
  }

  private grow(old: number, bytes: number): number {
    if (old) this.x.free(old);
    const p = this.x.malloc(bytes);
    if (p === 0) throw new Error(`zstd: cannot allocate ${bytes} bytes of WebAssembly memory`);
    return p;
  }
}

let compiled: WebAssembly.Module | undefined;

/** zstddec's WebAssembly module, compiled on first use in each thread. */
function zstdModule(): WebAssembly.Module {
  if (compiled) return compiled;
  const path = createRequire(import.meta.url).resolve('zstddec');
  const m = /\bconst wasm = "([A-Za-z0-9+/=]+)"/.exec(readFileSync(path, 'utf8'));
  if (!m) throw new Error(`${path} holds no WebAssembly module where zstddec 0.3.4 keeps it`);
  compiled = new WebAssembly.Module(Buffer.from(m[1]!, 'base64'));
  return compiled;
}

/**
 * zstd's words for the error codes a decoder returns (lib/zstd_errors.h
 * ZSTD_ErrorCode, lib/common/error_private.c ERR_getErrorString); the
 * module leaves out ZSTD_getErrorName.
 */
function zstdErrorName(code: number): string {
  return ZSTD_ERRORS[code] ?? `zstd error ${code}`;
}

const ZSTD_ERRORS: Record<number, string> = {
  1: 'Error (generic)',
  10: 'Unknown frame descriptor',
  12: 'Version not supported',
  14: 'Unsupported frame parameter',
  16: 'Frame requires too much memory for decoding',
  20: 'Data corruption detected',
  22: "Restored data doesn't match checksum",
  24: "Header of Literals' block doesn't respect format specification",
  30: 'Dictionary is corrupted',
  32: 'Dictionary mismatch',
  44: 'tableLog requires too much memory : unsupported',
  46: 'Unsupported max Symbol Value : too large',
  48: 'Specified maxSymbolValue is too small',
  64: 'Allocation error : not enough memory',
  70: 'Destination buffer is too small',
  72: 'Src size is incorrect',
};
