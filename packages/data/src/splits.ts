import { DataError } from './errors.js';
import { createRng } from './rng.js';

/**
 * Splits `list` into disjoint parts of the given fractions (each > 0, summing to at most 1) by a
 * seeded shuffle; e.g. `[0.45, 0.45, 0.1]` gives the two search halves and a validation split.
 * Part k gets the shuffled items from `round(f_0 + … + f_{k-1}) · n` up to `round(f_0 + … + f_k) · n`;
 * items left over when the fractions sum to less than 1 are in no part. Each part keeps the input
 * order. The same list and seed always give the same parts.
 */
export function splitImages<T>(list: readonly T[], fractions: readonly number[], seed: number): T[][] {
  if (fractions.length === 0) throw new DataError('split: no fractions given');
  for (const f of fractions) {
    if (!Number.isFinite(f) || f <= 0) throw new DataError(`split: fractions must be positive, got ${f}`);
  }
  const total = fractions.reduce((s, f) => s + f, 0);
  if (total > 1 + 1e-9) {
    throw new DataError(`split: fractions ${fractions.join(', ')} sum to ${total}, more than 1`);
  }
  const n = list.length;
  const order = createRng(seed)
    .fork('split')
    .shuffle(Array.from({ length: n }, (_, i) => i));
  const parts: T[][] = [];
  let cum = 0;
  let start = 0;
  for (const f of fractions) {
    cum += f;
    const end = Math.min(n, Math.round(Math.min(cum, 1) * n));
    if (end <= start) {
      throw new DataError(`split: fraction ${f} of ${n} items is empty; use more items or a larger fraction`);
    }
    parts.push(
      order
        .slice(start, end)
        .sort((a, b) => a - b)
        .map((i) => list[i]),
    );
    start = end;
  }
  return parts;
}
