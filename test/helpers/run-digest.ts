// A run sink that hashes every run event, column by column, batch by batch:
// two loops that must give byte-identical runs (the EPT loop and shadow's
// own loop against the reference path) are compared by this digest.
import { createHash } from 'node:crypto';
import type { RunBatch } from '../../src/events/run-batch.js';

export function runDigest(): { sink: (b: RunBatch) => void; digest: () => string } {
  const h = createHash('sha256');
  const sink = (b: RunBatch) => {
    h.update(`${b.count} ${b.baseNs} ${b.endNs}\n`);
    for (const col of [b.kind, b.dtNs, b.vcpu, b.page, b.arg, b.costNs]) h.update(new Uint8Array(col.buffer, col.byteOffset, col.byteLength));
  };
  return { sink, digest: () => h.digest('hex') };
}
