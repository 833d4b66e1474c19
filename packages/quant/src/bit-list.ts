import { parseBitWidth, type BitWidth } from './bits.js';

/** A conv's candidate bit-widths: non-empty, each 2..8 or 32, no repeats. */
export function parseBitList(bits: readonly (number | string)[]): BitWidth[] {
  if (bits.length === 0) throw new Error('a mixed-precision conv needs at least one bit-width');
  const parsed = bits.map(parseBitWidth);
  const seen = new Set<number>();
  for (const b of parsed) {
    if (seen.has(b)) throw new Error(`bit-width ${b} is listed twice in [${parsed.join(', ')}]`);
    seen.add(b);
  }
  return parsed;
}
