/**
 * int4 packing: two 4-bit two's-complement values per byte, element 2i in the low nibble and
 * element 2i + 1 in the high nibble; an odd count leaves the last high nibble 0. Values must lie
 * in [−8, 7] (2..4-bit LSQ codes do).
 */
export function packInt4(values: ArrayLike<number>): Uint8Array {
  const out = new Uint8Array(Math.ceil(values.length / 2));
  for (let i = 0; i < values.length; i++) {
    const v = values[i]!;
    if (!Number.isInteger(v) || v < -8 || v > 7) throw new Error(`packInt4: value ${v} at index ${i} is not an int4 (−8..7)`);
    out[i >> 1]! |= (v & 0x0f) << ((i & 1) * 4);
  }
  return out;
}

/** The inverse of `packInt4` for `count` values. */
export function unpackInt4(packed: Uint8Array, count: number): Int8Array {
  if (!Number.isInteger(count) || count < 0 || Math.ceil(count / 2) > packed.length) {
    throw new Error(`unpackInt4: ${count} values need ${Math.ceil(count / 2)} bytes, got ${packed.length}`);
  }
  const out = new Int8Array(count);
  for (let i = 0; i < count; i++) {
    const nibble = (packed[i >> 1]! >> ((i & 1) * 4)) & 0x0f;
    out[i] = (nibble ^ 8) - 8;
  }
  return out;
}
