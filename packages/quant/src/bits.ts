/** Bit-widths a layer can be quantized to; 32 means "not quantized" (full precision). */
export const BIT_WIDTHS = [2, 3, 4, 5, 6, 7, 8, 32] as const;
export type BitWidth = (typeof BIT_WIDTHS)[number];

export function isBitWidth(value: number): value is BitWidth {
  return (BIT_WIDTHS as readonly number[]).includes(value);
}

export function parseBitWidth(value: number | string): BitWidth {
  const n = typeof value === 'string' && value.trim() !== '' ? Number(value) : value;
  if (typeof n === 'number' && isBitWidth(n)) return n;
  throw new Error(`bit-width ${JSON.stringify(value)} is not supported (use 2..8, or 32 for full precision)`);
}

/**
 * HWGQ's fixed activation steps by bit-width (docs/method.md §4.1): the quantizer clips at
 * step·(2^b − 1). Widths without a published step use a learned step instead.
 */
export const HWGQ_STEPS: Readonly<Partial<Record<number, number>>> = {
  1: 1.0576,
  2: 0.6356,
  3: 0.3721,
  4: 0.21306,
  8: 0.020301,
  16: 9.71e-5,
};
