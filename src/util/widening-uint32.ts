/**
 * A Uint32 per index over a large range (one per guest page) that costs
 * memory only where values are nonzero, and only as many bytes per entry as
 * its chunk's largest value needs: 4,096-entry chunks, absent (all zero)
 * until a nonzero value is written into them, then Uint8, widened to Uint16
 * and to Uint32 the first time a value does not fit. For state written on a
 * cold path whose values are mostly small (the version each page had when
 * it was last sent: a guest's page is written a few times in most runs) and
 * zero for the pages a guest never touches. Reads and writes are a chunk
 * load and an element load: no hashing. Values are exact: a chunk widens
 * before it could truncate.
 */
import { Buffer } from 'node:buffer';

const CHUNK_SHIFT = 12;
export const WIDENING_CHUNK = 1 << CHUNK_SHIFT;
const CHUNK_MASK = WIDENING_CHUNK - 1;

type Chunk = Uint8Array | Uint16Array | Uint32Array;

/** A chunk of zeros, and a chunk's values widened to Uint32, for the scans' compares below. */
const ZERO_WORDS = new Uint32Array(WIDENING_CHUNK);
const wideScratch = new Uint32Array(WIDENING_CHUNK);

/**
 * Whether `a`'s first `n` words are `b`'s words [first, first + n): one
 * native compare of their bytes. The scans over every page of a guest
 * (the oracle's check at the end, its copy at enable) do this per chunk
 * and loop over a chunk's pages in JavaScript only where it differs: such a
 * scan runs once or twice a run, cold, where a loop over 65,536 pages (a
 * 256 MiB guest) took 3-8 ms before V8 optimised it, most of a short run.
 */
function sameWords(a: Uint32Array, b: Uint32Array, first: number, n: number): boolean {
  return Buffer.compare(new Uint8Array(a.buffer, a.byteOffset, n * 4), new Uint8Array(b.buffer, b.byteOffset + first * 4, n * 4)) === 0;
}

export class WideningUint32 {
  private readonly chunks: (Chunk | undefined)[];

  constructor(readonly length: number) {
    this.chunks = new Array<Chunk | undefined>(Math.ceil(length / WIDENING_CHUNK)).fill(undefined);
  }

  get(i: number): number {
    const c = this.chunks[i >>> CHUNK_SHIFT];
    return c === undefined ? 0 : c[i & CHUNK_MASK]!;
  }

  /** Sets entry i to `value` (an unsigned 32-bit integer). */
  set(i: number, value: number): void {
    const k = i >>> CHUNK_SHIFT;
    let c = this.chunks[k];
    if (c === undefined) {
      if (value === 0) return;
      c = this.chunks[k] = value <= 0xff ? new Uint8Array(WIDENING_CHUNK) : value <= 0xffff ? new Uint16Array(WIDENING_CHUNK) : new Uint32Array(WIDENING_CHUNK);
    } else if (value > 0xff && (c instanceof Uint8Array || (value > 0xffff && c instanceof Uint16Array))) {
      const wide: Chunk = value <= 0xffff ? new Uint16Array(WIDENING_CHUNK) : new Uint32Array(WIDENING_CHUNK);
      wide.set(c);
      c = this.chunks[k] = wide;
    }
    c[i & CHUNK_MASK] = value;
  }

  /**
   * Entries [k * WIDENING_CHUNK, (k + 1) * WIDENING_CHUNK) as a typed array
   * (undefined: all zero), for a scan that reads chunk by chunk. Its values
   * are the entries'; do not write through it.
   */
  chunk(k: number): Chunk | undefined {
    return this.chunks[k];
  }

  get chunkCount(): number {
    return this.chunks.length;
  }

  /** Whether chunk k's entries are `from`'s (a flat array of `length` entries) at the same indexes. */
  chunkEquals(k: number, from: Uint32Array): boolean {
    const first = k << CHUNK_SHIFT;
    const n = Math.min(WIDENING_CHUNK, this.length - first);
    const c = this.chunks[k];
    if (c === undefined) return sameWords(ZERO_WORDS, from, first, n);
    if (c instanceof Uint32Array) return sameWords(c, from, first, n);
    wideScratch.set(c);
    return sameWords(wideScratch, from, first, n);
  }

  /** Copies `from` (a flat array of `length` entries) into every entry; chunks of zeros stay absent. */
  copyFrom(from: Uint32Array): void {
    for (let k = 0; k < this.chunks.length; k++) {
      const first = k << CHUNK_SHIFT;
      const end = Math.min(first + WIDENING_CHUNK, this.length);
      if (sameWords(ZERO_WORDS, from, first, end - first)) {
        this.chunks[k] = undefined;
        continue;
      }
      let max = 0;
      for (let i = first; i < end; i++) if (from[i]! > max) max = from[i]!;
      if (max === 0) {
        this.chunks[k] = undefined;
        continue;
      }
      const c: Chunk = max <= 0xff ? new Uint8Array(WIDENING_CHUNK) : max <= 0xffff ? new Uint16Array(WIDENING_CHUNK) : new Uint32Array(WIDENING_CHUNK);
      c.set(from.subarray(first, end));
      this.chunks[k] = c;
    }
  }

  /** Bytes held by the chunks (what this array costs). */
  get bytes(): number {
    let n = 0;
    for (const c of this.chunks) if (c !== undefined) n += c.byteLength;
    return n;
  }

  /**
   * The entries as little-endian Uint32 words, chunk by chunk in index
   * order (`length` entries in all), handed to `take`: the bytes a flat
   * Uint32Array of the same values holds on a little-endian machine.
   */
  forEachWordChunk(take: (words: Uint32Array) => void): void {
    const scratch = new Uint32Array(WIDENING_CHUNK);
    for (let k = 0; k < this.chunks.length; k++) {
      const n = Math.min(WIDENING_CHUNK, this.length - (k << CHUNK_SHIFT));
      const c = this.chunks[k];
      if (c instanceof Uint32Array) take(c.subarray(0, n));
      else {
        if (c === undefined) scratch.fill(0);
        else scratch.set(c);
        take(scratch.subarray(0, n));
      }
    }
  }
}
