// A sweep's shared guest (src/cli/sweep/shared-guest.ts) replays exactly
// the generator's batches, events and boundaries, also when it is written
// into the buffers of a guest that is done (the sweep reuses them) and when
// it needs more room than those buffers have (they grow).
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { GUEST_COLUMNS } from '../../src/events/guest-batch.js';
import { guestSource } from '../../src/api/guest-source.js';
import { capacity, columnsOf, sharedSource, shareGuest } from '../../src/cli/sweep/shared-guest.js';
import { drainSync } from '../../src/util/drain-sync.js';
import { DEFAULT_GUEST } from '../../src/model/guest-config.js';

const source = (seed: number, durationNs: number) =>
  guestSource('apache', { seed, durationNs, memBytes: DEFAULT_GUEST.memBytes, vcpus: DEFAULT_GUEST.vcpus, guest: DEFAULT_GUEST.guest, paging: DEFAULT_GUEST.paging, settings: {} });

/** Each batch's count, times and a digest of its columns' bytes (events compared without a slow deep equality). */
function batches(events: ReturnType<typeof source>['events']): string[] {
  const out: string[] = [];
  drainSync(events(), (b) => {
    const h = createHash('sha256');
    for (const c of GUEST_COLUMNS) {
      const col = b[c].subarray(0, b.count);
      h.update(new Uint8Array(col.buffer, col.byteOffset, col.byteLength));
    }
    out.push(`${b.count} ${b.baseNs} ${b.endNs} ${h.digest('hex')}`);
  });
  return out;
}

describe('shared guest', () => {
  it("a guest written into a finished guest's buffers replays the generator's batches, and so does one that outgrows them", () => {
    const small = shareGuest(source(1, 50e6));
    const big = source(2, 400e6);
    const expected = batches(big.events);
    // More events than the first guest's room: the columns grow, keeping what was written.
    const count = expected.reduce((n, b) => n + Number(b.split(' ')[0]), 0);
    const tight = shareGuest(source(3, 10e6));
    const cramped = { ...columnsOf(tight), kind: new SharedArrayBuffer(tight.count), dtNs: new SharedArrayBuffer(tight.count * 4), vcpu: new SharedArrayBuffer(tight.count * 2), page: new SharedArrayBuffer(tight.count * 4), arg: new SharedArrayBuffer(tight.count * 4), pte: new SharedArrayBuffer(tight.count * 4) };
    expect(count).toBeGreaterThan(capacity(cramped));
    for (const reuse of [columnsOf(small), cramped]) {
      const g = shareGuest(big, reuse);
      expect(g.count).toBe(count);
      expect(batches(sharedSource(g, 'apache').events)).toEqual(expected);
    }
    // The first guest's buffers hold the second's events now: reused, not copied.
    const again = shareGuest(big, columnsOf(small));
    expect(again.kind).toBe(small.kind);
    expect(capacity(again)).toBeGreaterThanOrEqual(count);
  });
});
