import { describe, expect, it } from 'vitest';
import { cosineLr, entropyScheduleWeight } from './schedule.js';

describe('entropy schedule w1·w2 (docs/method.md §7)', () => {
  it('matches hand values for the reference setting E = 20, W = 9 (u = 2)', () => {
    const w = (e: number) => entropyScheduleWeight(e, 20, 9);
    for (let e = 0; e <= 10; e++) expect(w(e)).toBe(0); // warm-up, then e − W < u
    expect(w(11)).toBeCloseTo((2 / 10) * (Math.log(2) / Math.log(10)), 12);
    expect(w(12)).toBeCloseTo((3 / 10) * (Math.log(3) / Math.log(10)), 12);
    expect(w(15)).toBeCloseTo((6 / 10) * (Math.log(6) / Math.log(10)), 12);
    expect(w(19)).toBe(1);
  });

  it('reaches exactly 1 at the last epoch and is 0 before W + u for other lengths', () => {
    for (const [E, W] of [
      [6, 2],
      [10, 4],
      [3, 0],
      [2, 1],
      [40, 0],
    ] as const) {
      const u = Math.floor((E - W) / 4);
      expect(entropyScheduleWeight(E - 1, E, W)).toBeCloseTo(1, 12);
      for (let e = 0; e < W + u; e++) expect(entropyScheduleWeight(e, E, W)).toBe(0);
      for (let e = W + u; e < E - 1; e++) expect(entropyScheduleWeight(e, E, W)).toBeLessThan(entropyScheduleWeight(e + 1, E, W));
    }
    expect(entropyScheduleWeight(5, 10, 4)).toBeCloseTo((1 / 5) * (Math.log(2) / Math.log(6)), 12); // u = 1
  });

  it('rejects nonsense', () => {
    expect(() => entropyScheduleWeight(0.5, 10, 2)).toThrow(RangeError);
    expect(() => entropyScheduleWeight(0, 0, 0)).toThrow(RangeError);
  });
});

describe('cosine learning rate', () => {
  it('starts at lr, halves at mid-run and stays above lrMin at the last step', () => {
    expect(cosineLr(0, 100, 1e-3, 0)).toBe(1e-3);
    expect(cosineLr(50, 100, 1e-3, 0)).toBeCloseTo(5e-4, 12);
    expect(cosineLr(99, 100, 1e-3, 1e-5)).toBeGreaterThan(1e-5);
    expect(cosineLr(99, 100, 1e-3, 1e-5)).toBeLessThan(1.1e-5);
  });
});
