// The bytes XBZRLE's deltas follow (src/reducers/write-bytes.ts): each store
// the tracker took, into the page the MMU resolved it to.
import { describe, expect, it } from 'vitest';
import type { GuestBatch } from '../../src/events/guest-batch.js';
import { GuestEventKind } from '../../src/events/guest-event-kind.js';
import { ACCESS_FAULT, ACCESS_WRITE, type MmuOutput } from '../../src/reducers/mmu-output.js';
import { WriteBytes } from '../../src/reducers/write-bytes.js';

const { write, read, ptWrite, physWrite } = GuestEventKind;

/** Events: a 100-byte write to pfn 3, a read of 3, a pt_write into 5, a faulting write, a 40-byte phys_write to 3, a 7-byte write to 9. */
const chunk = {
  kind: new Uint8Array([write, read, ptWrite, write, physWrite, write]),
  arg: new Int32Array([100, 0, 17, 64, 40, 7]),
} as unknown as GuestBatch;
const out = {
  access: new Uint8Array([ACCESS_WRITE, 0, ACCESS_WRITE, ACCESS_WRITE | ACCESS_FAULT, ACCESS_WRITE, ACCESS_WRITE]),
  dataPfn: new Int32Array([3, 3, 5, -1, 3, 9]),
  // The first write's walk set an A/D bit in table page 5; the last one's in 6.
  adCount: 2,
  adEvent: new Int32Array([0, 5]),
  adPtPfn: new Int32Array([5, 6]),
} as unknown as MmuOutput;

describe('bytes written since the last send', () => {
  it("counts a write's bytes, a pt_write's 8 and an A/D update's 1 into the page stored to; reads and faulting stores count nothing", () => {
    const w = new WriteBytes(16);
    w.count(chunk, out, 0, 6);
    expect(w.bytes[3]).toBe(140);
    expect(w.bytes[5]).toBe(8 + 1);
    expect(w.bytes[6]).toBe(1);
    expect(w.bytes[9]).toBe(7);
  });

  it('counts only the events of the range the tracker took, so a store after the driver acted is counted after it', () => {
    const w = new WriteBytes(16);
    w.count(chunk, out, 0, 3);
    expect([w.bytes[3], w.bytes[5], w.bytes[6], w.bytes[9]]).toEqual([100, 9, 0, 0]);
    w.bytes[3] = 0; // the page is sent
    w.count(chunk, out, 3, 6);
    expect([w.bytes[3], w.bytes[5], w.bytes[6], w.bytes[9]]).toEqual([40, 9, 1, 7]);
  });
});
