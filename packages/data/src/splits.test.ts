import { describe, expect, it } from 'vitest';
import { DataError } from './errors.js';
import { splitImages } from './splits.js';

const items = Array.from({ length: 100 }, (_, i) => `img${i}`);

describe('splitImages', () => {
  it('gives disjoint parts of the requested sizes, each in input order', () => {
    const [a, b, v] = splitImages(items, [0.45, 0.45, 0.1], 1);
    expect([a.length, b.length, v.length]).toEqual([45, 45, 10]);
    const all = new Set([...a, ...b, ...v]);
    expect(all.size).toBe(100);
    for (const part of [a, b, v]) expect(part).toEqual(items.filter((x) => part.includes(x)));
  });

  it('is deterministic for a seed and changes with it', () => {
    expect(splitImages(items, [0.5, 0.5], 9)).toEqual(splitImages(items, [0.5, 0.5], 9));
    expect(splitImages(items, [0.5, 0.5], 9)).not.toEqual(splitImages(items, [0.5, 0.5], 10));
  });

  it('leaves items out when the fractions sum to less than 1', () => {
    const [part] = splitImages(items, [0.2], 4);
    expect(part).toHaveLength(20);
  });

  it('rejects bad fractions and empty parts', () => {
    expect(() => splitImages(items, [0.7, 0.7], 1)).toThrow(DataError);
    expect(() => splitImages(items, [0, 1], 1)).toThrow(/positive/);
    expect(() => splitImages(['a', 'b'], [0.9, 0.1], 1)).toThrow(/empty/);
    expect(() => splitImages(items, [], 1)).toThrow(DataError);
  });
});
