// Checks that a WideningUint32 holds exactly what a flat Uint32Array of the
// same writes holds (chunks widen from a byte to 16 and 32 bits before any
// value could be cut), that chunks only ever written with zeros cost
// nothing, and that its words, chunk by chunk, are the flat array's bytes
// (the run's state digest hashes them).
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
});
