import { describe, expect, it } from 'vitest';
import { adqScale, perSampleDeviation } from './deviation.js';

describe('perSampleDeviation', () => {
  it('gives each sample its own deviation over all of its values', () => {
    // Sample 0: 2,4,4,4,5,5,7,9 (population σ = 2); sample 1: constant.
    const values = [2, 4, 4, 4, 5, 5, 7, 9, 3, 3, 3, 3, 3, 3, 3, 3];
    expect(Array.from(perSampleDeviation(values, 2, 0))).toEqual([2, 0]);
    expect(perSampleDeviation(values, 2, 1)[0]).toBeCloseTo(Math.sqrt(32 / 7), 12);
  });

  it('does not lose precision on a large offset', () => {
    const values = Float64Array.from({ length: 1000 }, (_, i) => 1e8 + (i % 2));
    expect(perSampleDeviation(values, 1, 0)[0]).toBeCloseTo(0.5, 9);
  });

  it('rejects shapes that do not split into samples', () => {
    expect(() => perSampleDeviation([1, 2, 3], 2, 0)).toThrow('cannot be split into 2 samples');
    expect(() => perSampleDeviation([1], 1, 1)).toThrow('has no deviation');
  });
});

describe('adqScale', () => {
  it('is the affine map a·σ + c with the published initialisation', () => {
    expect(adqScale(2, 1.5, 0)).toBe(3);
    expect(adqScale(2, 1.5, -0.5)).toBe(2.5);
  });
});
