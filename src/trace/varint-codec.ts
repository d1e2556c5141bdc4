/**
 * Zigzag LEB128 varints for Int32 columns, optionally of the deltas between
 * consecutive values (pages written in sequence, slowly moving times). Small
 * magnitudes take one byte. Encoding writes into a caller-sized buffer (at
 * most 5 bytes a value) and returns the length used.
 */
export const VARINT_MAX_BYTES = 5;

export function encodeVarints(values: Int32Array, count: number, delta: boolean, out: Uint8Array): number {
  let o = 0;
  let prev = 0;
  for (let i = 0; i < count; i++) {
    const v = values[i]! | 0;
    const d = delta ? (v - prev) | 0 : v;
    prev = v;
    let z = ((d << 1) ^ (d >> 31)) >>> 0;
    while (z >= 0x80) {
      out[o++] = (z & 0x7f) | 0x80;
      z >>>= 7;
    }
    out[o++] = z;
  }
  return o;
}

/**
 * Decodes `count` values into `out`. Returns the number of bytes consumed,
 * or -1 if the input ends early or holds a varint longer than 5 bytes, so a
 * corrupted column is reported rather than read past.
 */
export function decodeVarints(
  bytes: Uint8Array,
  count: number,
  delta: boolean,
  out: Int32Array,
): number {
  const n = bytes.length;
  let o = 0;
  let prev = 0;
  for (let i = 0; i < count; i++) {
    if (o >= n) return -1;
    let b = bytes[o++]!;
    let z = b & 0x7f;
    if (b >= 0x80) {
      let shift = 7;
      do {
        if (o >= n || shift > 28) return -1;
        b = bytes[o++]!;
        z |= (b & 0x7f) << shift;
        shift += 7;
      } while (b >= 0x80);
    }
    const d = (z >>> 1) ^ -(z & 1);
    const v = delta ? (prev + d) | 0 : d;
    prev = v;
    out[i] = v;
  }
  return o;
}
