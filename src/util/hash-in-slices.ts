import type { Hash } from 'node:crypto';

/**
 * Bytes fed to a hash at most this many at a time: Hash.update refuses a
 * view of 2 GiB or more ("data is too long"), and a guest of 2 TiB or more
 * has per-page arrays that large (the oracle's source versions, 4 bytes a
 * page): a 4 TiB run failed at its very end, in its state digest.
 */
export const HASH_SLICE_BYTES = 1 << 30;

/** Feeds `bytes` to `h` in slices of at most `slice` bytes: the same bytes in the same order, so the same digest as one update. */
export function hashInSlices(h: Hash, bytes: Uint8Array, slice = HASH_SLICE_BYTES): void {
  for (let at = 0; at < bytes.length; at += slice) h.update(bytes.subarray(at, Math.min(bytes.length, at + slice)));
}
