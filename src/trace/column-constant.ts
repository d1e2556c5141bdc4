/** A column's typed array (column-codec.ts's ColumnArray, named here so the two files do not import each other). */
type ColumnArray = Uint8Array | Uint16Array | Uint32Array | Int32Array;

/**
 * True when the first `count` values of a column are all equal. Compares the
 * column's bytes with themselves shifted by one element (a native memcmp):
 * the two ranges match exactly when every element equals its neighbour.
 * A JS loop here would be polymorphic over four typed-array types and cost
 * several ns an event.
 */
export function isConstantColumn(values: ColumnArray, count: number): boolean {
  if (count <= 1) return true;
  const size = values.BYTES_PER_ELEMENT;
  const bytes = Buffer.from(values.buffer, values.byteOffset, count * size);
  return bytes.compare(bytes, size, count * size, 0, (count - 1) * size) === 0;
}
