import { createHash, type Hash } from 'node:crypto';
import type { ColumnArray } from './column-codec.js';
import { isConstantColumn } from './column-constant.js';

/**
 * The digest of a stream of batches: sha256 over, for each batch in order,
 * its stream tag and event count, then per column either a constant marker
 * and the value (a column whose values are all equal) or the column's bytes
 * (little-endian, as typed arrays are on every platform Node supports).
 * This canonical form depends on the events alone, never on the encoding,
 * and skips hashing the constant columns that most streams have.
 */
export class BatchDigest {
  private readonly hash: Hash = createHash('sha256');
  private readonly head = Buffer.alloc(5);
  private readonly constant = Buffer.alloc(9);
  private readonly variable = Buffer.alloc(1);

  add(streamTag: number, count: number, columns: readonly ColumnArray[]): void {
    this.head[0] = streamTag;
    this.head.writeUInt32LE(count, 1);
    this.hash.update(this.head);
    for (const c of columns) {
      if (isConstantColumn(c, count)) {
        this.constant[0] = 0xff;
        this.constant.writeDoubleLE(count > 0 ? c[0]! : 0, 1);
        this.hash.update(this.constant);
      } else {
        this.variable[0] = 0;
        this.hash.update(this.variable);
        this.hash.update(new Uint8Array(c.buffer, c.byteOffset, count * c.BYTES_PER_ELEMENT));
      }
    }
  }

  hex(): string {
    return this.hash.digest('hex');
  }
}

export const STREAM_TAG = { guest: 0, run: 1 } as const;
