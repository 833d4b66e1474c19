import { describe, expect, it } from 'vitest';
import { logTicks } from './plot.js';

const labelled = (x0: number, x1: number) =>
  logTicks(Math.log10(x0), Math.log10(x1))
    .filter((t) => t.label)
    .map((t) => t.value);

describe('logTicks', () => {
  it('labels decades over a wide span and a few round values over a narrow one', () => {
    expect(labelled(2e8, 3e10)).toEqual([1e9, 1e10]);
    expect(logTicks(Math.log10(2e8), Math.log10(3e10))).toHaveLength(8);
    expect(labelled(1.5e8, 3e9)).toEqual([2e8, 5e8, 1e9, 2e9]);
    // The λ sweep's span: 0.34 to 0.62 G.
    expect(labelled(3.4e8, 6.2e8)).toEqual([4e8, 5e8, 6e8]);
    // All runs at one cost, give or take a percent.
    expect(labelled(3.6e8, 3.7e8)).toEqual([3.61e8, 3.63e8, 3.65e8, 3.67e8, 3.69e8]);
  });
});
