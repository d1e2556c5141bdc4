// The trace reader decodes its records' Uint8Arrays as views of the bytes
// read (src/trace/byte-views.ts), not copies; every other msgpack decode in
// the process must still get copies it may keep after the bytes change.
import { Packr, Unpackr } from 'msgpackr';
import { describe, expect, it } from 'vitest';
import { unpackViewingBytes } from '../../src/trace/byte-views.js';
import { traceCodecOptions } from '../../src/trace/trace-frame.js';

describe('byte views of trace records', () => {
  const packr = new Packr(traceCodecOptions());
  const record = { cols: [{ c: 'p', d: Uint8Array.from([1, 2, 3, 4, 5]) }, { c: 'r', d: Uint32Array.from([7, 8]) }] };

  it("a record's Uint8Arrays are views of the payload; other typed arrays are aligned copies", () => {
    const payload = packr.pack(record);
    const rec = unpackViewingBytes(new Unpackr(traceCodecOptions()), payload) as typeof record;
    const bytes = rec.cols[0]!.d;
    expect(Array.from(bytes)).toEqual([1, 2, 3, 4, 5]);
    expect(bytes.constructor).toBe(Uint8Array);
    expect(bytes.buffer).toBe(payload.buffer);
    payload[payload.indexOf(3)] = 99;
    expect(Array.from(bytes)).toEqual([1, 2, 99, 4, 5]);
    expect(Array.from(rec.cols[1]!.d)).toEqual([7, 8]);
    expect(rec.cols[1]!.d.buffer).not.toBe(payload.buffer);
  });

  it('every other decode in the process, before and after, copies its typed arrays', () => {
    const unpackr = new Unpackr(traceCodecOptions());
    for (const when of ['after', 'again']) {
      unpackViewingBytes(unpackr, packr.pack(record));
      const payload = packr.pack(record);
      const rec = unpackr.unpack(payload) as typeof record;
      expect(rec.cols[0]!.d.buffer, when).not.toBe(payload.buffer);
      payload.fill(0);
      expect(Array.from(rec.cols[0]!.d), when).toEqual([1, 2, 3, 4, 5]);
    }
  });
});
