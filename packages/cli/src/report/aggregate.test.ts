import { describe, expect, it } from 'vitest';
import { groupRuns, mean, paretoFront, sampleStd, stat } from './aggregate.js';
import type { ReportRun } from './inputs.js';
import { fixtureRun } from './test-helpers.js';

const run = (group: string, seed: number, bitops: number, psnr: number, kind: 'searched' | 'baseline' = 'searched'): ReportRun => ({
  dir: `/runs/${group}-${seed}`,
  id: `${group}-${seed}`,
  label: `${group}, seed ${seed}`,
  groupKey: group,
  group,
  seed,
  run: fixtureRun({ label: group, kind, bitops, psnr }),
  files: {},
});

describe('mean and sample standard deviation', () => {
  it('match values computed by hand', () => {
    // 29.51, 29.64, 29.47: mean 88.62 / 3 = 29.54; deviations −0.03, 0.10, −0.07; squares sum to
    // 0.0158; / (3 − 1) = 0.0079; √ = 0.088882.
    expect(mean([29.51, 29.64, 29.47])).toBeCloseTo(29.54, 12);
    expect(sampleStd([29.51, 29.64, 29.47])).toBeCloseTo(0.088882, 6);
    // Two values: |a − b| / √2.
    expect(sampleStd([1, 2])).toBeCloseTo(Math.SQRT1_2, 12);
    expect(sampleStd([5])).toBeNull();
    expect(sampleStd([])).toBeNull();
    expect(stat([3, 1, 2])).toEqual({ mean: 2, std: 1, min: 1, max: 3 });
  });

  it('marks the front: lower x and higher y are better, ties keep both', () => {
    const points = [
      { x: 1, y: 29.5 },
      { x: 2, y: 29.4 }, // dominated by the first
      { x: 2, y: 29.8 },
      { x: 1, y: 29.5 }, // the same point as the first: neither dominates
    ];
    expect(paretoFront(points)).toEqual([true, false, true, true]);
  });
});

describe('groupRuns', () => {
  it('aggregates the seeds of each group and orders groups by mean BitOps', () => {
    const runs = [run('b', 2, 4e8, 29.64), run('a', 1, 9e8, 30.1, 'baseline'), run('b', 1, 6e8, 29.51), run('b', 3, 5e8, 29.47)];
    const groups = groupRuns(runs, 'Set5');
    expect(groups.map((g) => [g.name, g.runs.length, g.pareto])).toEqual([
      ['b', 3, true],
      ['a', 1, true],
    ]);
    const [b, a] = groups;
    expect(b!.runs.map((r) => r.seed)).toEqual([1, 2, 3]);
    expect(b!.bitops).toEqual({ mean: 5e8, std: 1e8, min: 4e8, max: 6e8 });
    expect(b!.sets.Set5!.psnr.mean).toBeCloseTo(29.54, 12);
    expect(b!.sets.Set5!.psnr.std).toBeCloseTo(0.088882, 6);
    expect(b!.sets.Set14!.psnr.mean).toBeCloseTo(29.54 - 2.75, 12);
    expect(b!.seconds.search).toBeCloseTo(156.2, 9);
    expect(b!.seconds.train).toBeCloseTo(401.7, 9);
    expect(a!.sets.Set5!.psnr.std).toBeNull();
    expect(a!.kind).toBe('baseline');
    // A group behind another on the front: more BitOps, less PSNR.
    expect(groupRuns([...runs, run('c', 1, 1e9, 29.0)], 'Set5').map((g) => g.pareto)).toEqual([true, true, false]);
    // The order of the runs given does not change the groups.
    expect(groupRuns([...runs].reverse(), 'Set5')).toEqual(groups);
  });
});
