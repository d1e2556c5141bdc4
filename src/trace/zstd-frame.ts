/**
 * What a Zstandard frame can decompress to, read from its frame and block
 * headers alone (RFC 8878, sections 3.1.1 and 3.1.1.2), so that a column
 * whose frame must inflate past what the column holds is refused before
 * the decoder allocates anything (a frame of a few KB can claim
 * gigabytes), and a frame that only may is inflated into no more room
 * than the column holds (the decoder stops with an error at its end).
 *
 * A raw or RLE block regenerates exactly its Block_Size: their sum is the
 * least the frame inflates to. A compressed block regenerates at most
 * Block_Maximum_Size, 128 KiB, and the frame as a whole at most its
 * Frame_Content_Size where the header has one (section 3.1.1.1.4; the
 * decoder holds the frame to it). The least is what refuses a column:
 * zstd splits a column into compressed blocks of less than 128 KiB, so
 * the most alone refused a 1 MiB column its writer had just written (a
 * chunk of 262,144 events; our writer's frames carry no content size).
 *
 * Returns undefined for anything that is not exactly one frame (bad magic,
 * a reserved bit, a block past the end, bytes after the frame, a window
 * over 16 MiB).
 */
const MAGIC = 0xfd2fb528;
export const BLOCK_MAX = 128 * 1024;
const MAX_WINDOW_LOG = 24;
const DID_BYTES = [0, 1, 2, 4];
const FCS_BYTES = [0, 2, 4, 8];

export interface ZstdFrameSizes {
  /** Bytes the frame inflates to at least (its raw and RLE blocks). */
  readonly least: number;
  /** Bytes it inflates to at most. */
  readonly most: number;
}

export function zstdFrameSizes(z: Uint8Array): ZstdFrameSizes | undefined {
  const n = z.length;
  if (n < 6 || ((z[0]! | (z[1]! << 8) | (z[2]! << 16) | (z[3]! << 24)) >>> 0) !== MAGIC) return undefined;
  const fhd = z[4]!;
  if ((fhd & 0x08) !== 0) return undefined; // reserved bit
  const singleSegment = (fhd >> 5) & 1;
  const fcsFlag = fhd >> 6;
  const checksum = (fhd >> 2) & 1;
  // A window past 16 MiB is none we write, and would be allocated by the decoder.
  if (!singleSegment && 10 + (z[5]! >> 3) > MAX_WINDOW_LOG) return undefined;
  const fcsAt = 5 + (singleSegment ? 0 : 1) + DID_BYTES[fhd & 3]!;
  const fcsBytes = fcsFlag === 0 && singleSegment ? 1 : FCS_BYTES[fcsFlag]!;
  if (fcsAt + fcsBytes > n) return undefined;
  const contentSize = fcsBytes === 0 ? undefined : frameContentSize(z, fcsAt, fcsBytes);
  let o = fcsAt + fcsBytes;
  let least = 0;
  let most = 0;
  for (;;) {
    if (o + 3 > n) return undefined;
    const h = z[o]! | (z[o + 1]! << 8) | (z[o + 2]! << 16);
    o += 3;
    const last = h & 1;
    const type = (h >> 1) & 3;
    const size = h >>> 3;
    if (type === 3) return undefined; // reserved
    if (type === 0) {
      least += size;
      most += size;
      o += size;
    } else if (type === 1) {
      least += size;
      most += size;
      o += 1;
    } else {
      if (size > BLOCK_MAX) return undefined;
      most += BLOCK_MAX;
      o += size;
    }
    if (o > n) return undefined;
    if (last) break;
  }
  if (o + 4 * checksum !== n) return undefined;
  // A content size below the raw and RLE blocks is a broken frame: the blocks bound it, and refuse it.
  return { least, most: contentSize === undefined ? most : Math.max(least, Math.min(contentSize, most)) };
}

/** Frame_Content_Size, little-endian in 1, 2, 4 or 8 bytes (a 2-byte field holds the size less 256). */
function frameContentSize(z: Uint8Array, at: number, bytes: number): number {
  if (bytes === 1) return z[at]!;
  if (bytes === 2) return (z[at]! | (z[at + 1]! << 8)) + 256;
  const low = (z[at]! | (z[at + 1]! << 8) | (z[at + 2]! << 16) | (z[at + 3]! << 24)) >>> 0;
  if (bytes === 4) return low;
  const high = (z[at + 4]! | (z[at + 5]! << 8) | (z[at + 6]! << 16) | (z[at + 7]! << 24)) >>> 0;
  return high * 2 ** 32 + low;
}
