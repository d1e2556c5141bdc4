// Checks the reader's Zstandard decoder (src/trace/zstd-inflater.ts: zstd's
// reference decoder as WebAssembly, into memory reused call after call)
// against what the writer's native zstd compressed: every frame comes back
// as the bytes that went in, whatever came before it (a larger frame growing
// the memory, a smaller one after), and a damaged frame or one larger than
// the room given is an error in zstd's words, never a write past the room.
import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';
import { ZstdInflater } from '../../src/trace/zstd-inflater.js';

const { Encoder } = createRequire(import.meta.url)('@toondepauw/node-zstd') as typeof import('@toondepauw/node-zstd');

/** Bytes a packed column could hold: runs, small values and noise from a seeded generator. */
function payload(bytes: number, seed: number): Uint8Array {
  const out = new Uint8Array(bytes);
  let s = seed >>> 0;
  for (let i = 0; i < bytes; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    // A quarter of the bytes repeat the one 37 back (what zstd finds), a quarter are zero.
    out[i] = s >>> 30 === 0 && i >= 37 ? out[i - 37]! : s >>> 30 === 1 ? 0 : s >>> 24;
  }
  return out;
}

function compress(plain: Uint8Array, level = 1): Uint8Array {
  return new Uint8Array(new Encoder(level).encodeSync(Buffer.from(plain)));
}

describe('zstd inflater', () => {
  it('gives back exactly the bytes the writer compressed, frame after frame, as the memory grows and shrinks back in use', () => {
    const z = new ZstdInflater();
    // 200 KiB, then 20 MiB (past the module's first 16 MiB of memory: it grows), then small ones.
    for (const [bytes, seed, level] of [
      [200 * 1024, 1, 1],
      [20 * 1024 * 1024, 2, 1],
      [1000, 3, 3],
      [70_000, 4, 1],
      [1, 5, 1],
    ] as const) {
      const plain = payload(bytes, seed);
      const got = z.inflate(compress(plain, level), bytes);
      expect(got).toBeInstanceOf(Uint8Array);
      expect(Buffer.compare(Buffer.from(got as Uint8Array), Buffer.from(plain))).toBe(0);
    }
  });

  it('refuses a frame that inflates past the room given, in zstd words', () => {
    const plain = payload(100_000, 6);
    const z = new ZstdInflater();
    expect(z.inflate(compress(plain), plain.length - 1)).toEqual({ error: 'Destination buffer is too small' });
    // The same inflater still works after the error.
    expect((z.inflate(compress(plain), plain.length) as Uint8Array).length).toBe(plain.length);
  });

  it('a damaged frame is zstd\'s error in its words, or bytes within the room given (the trace\'s CRC is what catches a flipped byte), never a crash', () => {
    const plain = payload(300_000, 7);
    const frame = compress(plain);
    const z = new ZstdInflater();
    let errors = 0;
    let s = 11;
    for (let k = 0; k < 40; k++) {
      s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
      const bad = Uint8Array.from(frame);
      // Past the frame header (whose damage the reader's zstdFrameSizes already refuses).
      const at = 12 + (s % (frame.length - 12));
      bad[at] = bad[at]! ^ (1 + ((s >>> 24) % 255));
      const got = z.inflate(bad, plain.length);
      if (got instanceof Uint8Array) {
        // zstd checks structure, not content: a flip in a literal can decode
        // to other bytes of the same length (the trace's CRC catches those).
        expect(got.length).toBe(plain.length);
      } else {
        expect(got.error).toMatch(/^[A-Z][a-z]/);
        errors++;
      }
    }
    expect(errors).toBeGreaterThan(10);
  });
});
