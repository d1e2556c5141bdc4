// Checks that a WideningUint32 holds exactly what a flat Uint32Array of the
// same writes holds (chunks widen from a byte to 16 and 32 bits before any
// value could be cut), that chunks only ever written with zeros cost
// nothing, and that its words, chunk by chunk, are the flat array's bytes
// (the run's state digest hashes them), and that chunkEquals, the one
// compare the oracle's scans make per chunk, answers as comparing entry by
// entry does.
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { WIDENING_CHUNK, WideningUint32 } from '../../src/util/widening-uint32.js';

describe('WideningUint32', () => {
  it('reads back every write as a flat Uint32Array does, across widenings, and hashes to the same bytes', () => {
    const n = 3 * WIDENING_CHUNK + 123;
    const flat = new Uint32Array(n);
    const w = new WideningUint32(n);
    // A chunk of bytes, one widened to 16 bits, one to 32 bits, a partial tail; zeros written over values too.
    const writes: [number, number][] = [
      [1, 7], [2, 255], [WIDENING_CHUNK + 5, 200], [WIDENING_CHUNK + 6, 256], [WIDENING_CHUNK + 5, 65535],
      [2 * WIDENING_CHUNK, 1], [2 * WIDENING_CHUNK + 1, 65536], [2 * WIDENING_CHUNK + 2, 0xffffffff], [2 * WIDENING_CHUNK, 0],
      [n - 1, 3], [1, 0],
    ];
    for (const [i, v] of writes) {
      flat[i] = v;
      w.set(i, v);
    }
    for (let i = 0; i < n; i++) expect(w.get(i)).toBe(flat[i]);
    const hw = createHash('sha256');
    w.forEachWordChunk((words) => hw.update(new Uint8Array(words.buffer, words.byteOffset, words.byteLength)));
    expect(hw.digest('hex')).toBe(createHash('sha256').update(new Uint8Array(flat.buffer)).digest('hex'));
    // Bytes: a byte chunk, a 16-bit chunk, a 32-bit chunk and a byte tail.
    expect(w.bytes).toBe(WIDENING_CHUNK * (1 + 2 + 4 + 1));
  });

  it('costs nothing for chunks written only with zeros, and copyFrom keeps each chunk as narrow as its values', () => {
    const n = 4 * WIDENING_CHUNK;
    const w = new WideningUint32(n);
    for (let i = 0; i < n; i += 7) w.set(i, 0);
    expect(w.bytes).toBe(0);
    const flat = new Uint32Array(n);
    flat[WIDENING_CHUNK + 3] = 9;
    flat[3 * WIDENING_CHUNK] = 70000;
    w.copyFrom(flat);
    expect(w.bytes).toBe(WIDENING_CHUNK * (1 + 4));
    for (let i = 0; i < n; i++) expect(w.get(i)).toBe(flat[i]);
  });

  it('chunkEquals(k, flat) holds exactly when every entry of chunk k is the flat array\'s, whatever the chunk\'s width', () => {
    const n = 4 * WIDENING_CHUNK + 77;
    const w = new WideningUint32(n);
    const flat = new Uint32Array(n);
    // Chunk 0 absent, 1 bytes, 2 16-bit, 3 32-bit, 4 a partial byte tail.
    for (const [i, v] of [[WIDENING_CHUNK + 1, 5], [2 * WIDENING_CHUNK + 2, 300], [3 * WIDENING_CHUNK + 3, 70000], [n - 1, 9]] as const) {
      w.set(i, v);
      flat[i] = v;
    }
    const byEntry = (k: number) => {
      for (let i = k * WIDENING_CHUNK; i < Math.min(n, (k + 1) * WIDENING_CHUNK); i++) if (w.get(i) !== flat[i]) return false;
      return true;
    };
    for (let k = 0; k < w.chunkCount; k++) expect(w.chunkEquals(k, flat)).toBe(true);
    // One entry off in each chunk in turn, the first, a middle and the last of it.
    for (let k = 0; k < w.chunkCount; k++) {
      const last = Math.min(n, (k + 1) * WIDENING_CHUNK) - 1;
      for (const i of [k * WIDENING_CHUNK, k * WIDENING_CHUNK + 100, last]) {
        flat[i]! += 1;
        for (let j = 0; j < w.chunkCount; j++) expect(w.chunkEquals(j, flat), `entry ${i} off, chunk ${j}`).toBe(byEntry(j));
        flat[i]! -= 1;
      }
    }
  });
});
