import { addExtension, type Unpackr } from 'msgpackr';

/**
 * msgpackr decodes a typed array (its extension 0x74, `moreTypes`) into a
 * fresh copy of its bytes, so that the array is aligned and outlives the
 * buffer it was read from. The trace's columns are Uint8Arrays (packed,
 * Zstandard and varint bytes), which need no alignment, and a trace reader
 * is done with a record's bytes before it reads the next record (the
 * read-ahead thread copies them into its shared slot first): for them the
 * copy is wasted. It was a tenth of a one-thread read of apache (every
 * column of every chunk copied into a new ArrayBuffer, then dropped).
 *
 * unpackViewingBytes decodes with each Uint8Array a view of `payload`
 * instead, valid while `payload` is; every other decode in the process,
 * and every other typed array, is as msgpackr makes it (a copy).
 */
let viewing = false;

/** msgpackr's type codes of its typed-array extension (unpack.js `typedArrays`): Uint8Array is 1. */
const TYPED_ARRAYS = ['Int8Array', 'Uint8Array', 'Uint8ClampedArray', 'Int16Array', 'Uint16Array', 'Int32Array', 'Uint32Array', 'Float32Array', 'Float64Array', 'BigInt64Array', 'BigUint64Array'] as const;
const UINT8 = 1;

let installed = false;

function install(): void {
  installed = true;
  addExtension({
    type: 0x74,
    unpack(data: Uint8Array): unknown {
      const code = data[0]!;
      if (viewing && code === UINT8) return new Uint8Array(data.buffer, data.byteOffset + 1, data.length - 1);
      // msgpackr's own: a copy, aligned.
      const buffer = Uint8Array.prototype.slice.call(data, 1).buffer;
      const name = TYPED_ARRAYS[code];
      if (!name) {
        if (code === 16) return buffer;
        if (code === 17) return new DataView(buffer);
        throw new Error(`Could not find typed array for code ${code}`);
      }
      return new (globalThis[name] as unknown as new (b: ArrayBuffer) => unknown)(buffer);
    },
  });
}

/** `payload` decoded, its Uint8Arrays views of it (valid while `payload` is unchanged). */
export function unpackViewingBytes(unpackr: Unpackr, payload: Uint8Array): unknown {
  if (!installed) install();
  viewing = true;
  try {
    return unpackr.unpack(payload);
  } finally {
    viewing = false;
  }
}
