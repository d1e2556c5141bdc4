import { createHash, type Hash } from 'node:crypto';
import type { ColumnArray } from './column-codec.js';

/**
 * The digest of a stream of batches: sha256 over, for each batch in order,
 * its stream tag, its event count and each column's bytes (little-endian, as
 * typed arrays are on every platform Node supports). Compression is never
 * hashed, so a change of encoding keeps the digest.
 */
export class BatchDigest {
  private readonly hash: Hash = createHash('sha256');
  private readonly head = Buffer.alloc(5);

  add(streamTag: number, count: number, columns: readonly ColumnArray[]): void {
    this.head[0] = streamTag;
    this.head.writeUInt32LE(count, 1);
    this.hash.update(this.head);
    for (const c of columns) this.hash.update(new Uint8Array(c.buffer, c.byteOffset, count * c.BYTES_PER_ELEMENT));
  }

  hex(): string {
    return this.hash.digest('hex');
  }
}

export const STREAM_TAG = { guest: 0, run: 1 } as const;
