import { bicubicUpscale } from '@quantnas/data';
import { describe, expect, it } from 'vitest';
import { evaluate, type SrModel } from './evaluate.js';
import { standardProtocol } from './protocol.js';
import { testDataRoot } from '@quantnas/data/test-helpers';

/**
 * MATLAB-bicubic upscaling scored under the standard protocol must reproduce the numbers every
 * SR paper prints for bicubic (e.g. the EDSR/RCAN tables). This checks the whole chain: LR files,
 * modcrop, bicubic, Y conversion, shave, PSNR/SSIM and per-image means.
 */
const PSNR: Record<number, Record<string, number>> = {
  2: { Set5: 33.66, Set14: 30.24, B100: 29.56 },
  3: { Set5: 30.39, Set14: 27.55, B100: 27.21 },
  4: { Set5: 28.42, Set14: 26.0, B100: 25.96 },
};
const SSIM_X4: Record<string, number> = { Set5: 0.8104, Set14: 0.7027, B100: 0.6675 };
const SETS = ['Set5', 'Set14', 'B100'];

const root = testDataRoot('metrics: bicubic against the published Set5, Set14 and B100 numbers', ['Set5', 'Set14', 'B100']) ?? '';
const bicubic: SrModel = { name: 'bicubic', upscale: (lr, info) => bicubicUpscale(lr, info.scale) };

describe.skipIf(root === '')('bicubic on the SR benchmarks', () => {
  for (const scale of [2, 3, 4]) {
    it(`reproduces the published x${scale} numbers`, async () => {
      const result = await evaluate({ model: bicubic, scale, sets: SETS, root, protocol: standardProtocol(scale) });
      expect(Object.keys(result.sets)).toEqual(SETS);
      expect(result.sets.Set5.images).toBe(5);
      expect(result.sets.Set14.images).toBe(14);
      expect(result.sets.B100.images).toBe(100);
      for (const set of SETS) {
        expect(Math.abs(result.sets[set].psnr - PSNR[scale][set]), `${set} x${scale} PSNR`).toBeLessThanOrEqual(0.015);
        if (scale === 4) {
          expect(Math.abs(result.sets[set].ssim - SSIM_X4[set]), `${set} x4 SSIM`).toBeLessThanOrEqual(0.002);
        }
      }
    });
  }
});
