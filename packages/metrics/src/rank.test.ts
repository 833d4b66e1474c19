import { describe, expect, it } from 'vitest';
import { kendallTau } from './rank.js';

describe('kendallTau', () => {
  it('is 1 for the same order and −1 for the reverse', () => {
    expect(kendallTau([1, 2, 3, 4], [10, 20, 30, 40])).toBe(1);
    expect(kendallTau([1, 2, 3, 4], [4, 3, 2, 1])).toBe(-1);
  });

  it('matches SciPy’s documented τ-b with ties', () => {
    // scipy.stats.kendalltau([12, 2, 1, 12, 2], [1, 4, 7, 1, 0]) → -0.47140452079103173
    expect(kendallTau([12, 2, 1, 12, 2], [1, 4, 7, 1, 0])).toBeCloseTo(-0.47140452079103173, 14);
  });

  it('counts one swapped pair of four as 4/6 concordant', () => {
    // 6 pairs, 1 discordant: (5 − 1) / 6.
    expect(kendallTau([1, 2, 3, 4], [1, 3, 2, 4])).toBeCloseTo(4 / 6, 14);
  });

  it('is NaN for a constant sample and rejects unpaired or non-finite input', () => {
    expect(kendallTau([1, 1, 1], [1, 2, 3])).toBeNaN();
    expect(() => kendallTau([1, 2], [1])).toThrow(/paired/);
    expect(() => kendallTau([1], [1])).toThrow(/at least 2/);
    expect(() => kendallTau([1, Number.NaN], [1, 2])).toThrow(/x\[1\] is NaN/);
  });
});
