import { describe, expect, it } from 'vitest';
import { SearchError } from './config.js';
import { resolveSearchConfig } from './resolve-config.js';
import { getSpace } from '@quantnas/search-spaces';
import { PRESETS } from './presets.js';
import { fixedArchitectureShape } from './search.js';

describe('search configuration', () => {
  it('takes the preset, the defaults, then the overrides', () => {
    const c = resolveSearchConfig({ space: 'rfdn', preset: 'paper', penalty: 1e-5, batchSize: 16 });
    expect(c).toMatchObject({ ...PRESETS.paper, batchSize: 16, penalty: 1e-5, mode: 'noise', adq: true, seed: 1, preset: 'paper' });
    expect(c).toMatchObject({
      channels: 48,
      cells: 4,
      epochs: 20,
      warmupEpochs: 9,
      lrPatchSize: 45,
      alphaLr: 3e-4,
      alphaBeta1: 0.5,
      wWeightDecay: 3e-8,
      wGradClip: 5,
    });
    expect(resolveSearchConfig({ space: 'basic' }).preset).toBe('quick');
  });

  it("keeps a fixed architecture's own width and cells under a preset, unless they are given", () => {
    const quick = (space: string, overrides = {}) =>
      fixedArchitectureShape(resolveSearchConfig({ space, preset: 'quick', ...overrides }), overrides, getSpace(space));
    // FSRCNN-like at the quick preset's C = 12 and one cell would be another network (d = 12, one mapping layer).
    expect(quick('fsrcnn')).toMatchObject({ channels: null, cells: null });
    expect(quick('fsrcnn', { channels: 24 })).toMatchObject({ channels: 24, cells: null });
    // A space with choices of op is scaled down by the preset as before.
    expect(quick('rfdn-bicubic')).toMatchObject({ channels: 12, cells: 1 });
  });

  it('keeps the warm-up fraction when only the length changes', () => {
    expect(resolveSearchConfig({ space: 'rfdn', preset: 'paper', epochs: 40 }).warmupEpochs).toBe(18);
    expect(resolveSearchConfig({ space: 'rfdn', preset: 'paper', epochs: 1 }).warmupEpochs).toBe(0);
    expect(resolveSearchConfig({ space: 'rfdn', preset: 'paper', epochs: 10, warmupEpochs: 2 }).warmupEpochs).toBe(2);
  });

  it.each([
    [{ mode: 'exact' }, 'mode must be noise, direct or fp'],
    [{ bits: [4, 9] }, 'bit-width 9 is not supported'],
    [{ bits: [4, 4] }, 'bits lists a bit-width twice'],
    [{ epochs: 3, warmupEpochs: 3 }, 'warmupEpochs (3) must be smaller than epochs (3)'],
    [{ splits: [0.5, 0.5, 0.1] }, 'splits must be three positive fractions'],
    [{ penalty: -1 }, 'penalty must be a finite number ≥ 0'],
    [{ preset: 'huge' }, "unknown preset 'huge'"],
  ])('rejects %j', (bad, message) => {
    expect(() => resolveSearchConfig({ space: 'rfdn', ...(bad as object) })).toThrow(SearchError);
    expect(() => resolveSearchConfig({ space: 'rfdn', ...(bad as object) })).toThrow(message);
  });
});
