/**
 * The most bytes a Zstandard frame can decompress to, read from its frame
 * and block headers alone (RFC 8878, sections 3.1.1 and 3.1.1.2), so that
 * a column is refused before the native decoder allocates anything for a
 * frame that would inflate past what the column can hold (a frame of a few
 * KB can claim gigabytes; the decoder we use takes no output limit).
 *
 * A raw or RLE block regenerates exactly its Block_Size; a compressed one
 * at most Block_Maximum_Size, 128 KiB. Returns undefined for anything that
 * is not exactly one frame (bad magic, a reserved bit, a block past the
 * end, bytes after the frame, a window over 16 MiB).
 */
const MAGIC = 0xfd2fb528;
export const BLOCK_MAX = 128 * 1024;
const MAX_WINDOW_LOG = 24;
const DID_BYTES = [0, 1, 2, 4];
const FCS_BYTES = [0, 2, 4, 8];

export function zstdFrameBound(z: Uint8Array): number | undefined {
  const n = z.length;
  if (n < 6 || ((z[0]! | (z[1]! << 8) | (z[2]! << 16) | (z[3]! << 24)) >>> 0) !== MAGIC) return undefined;
  const fhd = z[4]!;
  if ((fhd & 0x08) !== 0) return undefined; // reserved bit
  const singleSegment = (fhd >> 5) & 1;
  const fcsFlag = fhd >> 6;
  const checksum = (fhd >> 2) & 1;
  // A window past 16 MiB is none we write, and would be allocated by the decoder.
  if (!singleSegment && 10 + (z[5]! >> 3) > MAX_WINDOW_LOG) return undefined;
  let o = 5 + (singleSegment ? 0 : 1) + DID_BYTES[fhd & 3]! + (fcsFlag === 0 && singleSegment ? 1 : FCS_BYTES[fcsFlag]!);
  let bound = 0;
  for (;;) {
    if (o + 3 > n) return undefined;
    const h = z[o]! | (z[o + 1]! << 8) | (z[o + 2]! << 16);
    o += 3;
    const last = h & 1;
    const type = (h >> 1) & 3;
    const size = h >>> 3;
    if (type === 3) return undefined; // reserved
    if (type === 0) {
      bound += size;
      o += size;
    } else if (type === 1) {
      bound += size;
      o += 1;
    } else {
      if (size > BLOCK_MAX) return undefined;
      bound += BLOCK_MAX;
      o += size;
    }
    if (o > n) return undefined;
    if (last) break;
  }
  return o + 4 * checksum === n ? bound : undefined;
}
