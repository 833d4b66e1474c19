import { bicubicUpscale, DataError, imageToF32, openSet, type ImageU8 } from '@quantnas/data';
import { describe, expect, it } from 'vitest';
import { evaluate, type EvaluationEvent, type SrModel, type UpscaleInfo } from './evaluate.js';
import { standardProtocol } from './protocol.js';
import { psnr } from './psnr.js';
import { ssim } from './ssim.js';
import { testDataRoot } from '@quantnas/data/test-helpers';

const root = testDataRoot('metrics: evaluate on Set5 and Set14', ['Set5', 'Set14', 'B100']) ?? '';
const protocol = standardProtocol(4);
const bicubic: SrModel = { name: 'bicubic', upscale: (lr, info) => bicubicUpscale(lr, info.scale) };

describe.skipIf(root === '')('evaluate', () => {
  it('scores every image of a set, reports progress in order, and means per image', async () => {
    const events: EvaluationEvent[] = [];
    const seen: UpscaleInfo[] = [];
    const model: SrModel = {
      name: 'bicubic',
      upscale: (lr, info) => {
        seen.push(info);
        return bicubicUpscale(lr, info.scale);
      },
    };
    const result = await evaluate({ model, scale: 4, sets: ['Set5'], root, protocol, onProgress: (e) => events.push(e) });

    expect(result.model).toBe('bicubic');
    expect(result.scale).toBe(4);
    expect(result.protocol).toEqual(protocol);
    const set5 = result.sets.Set5;
    expect(set5.images).toBe(5);
    expect(set5.perImage.map((r) => r.image)).toEqual(['baby', 'bird', 'butterfly', 'head', 'woman']);
    expect(set5.perImage.find((r) => r.image === 'woman')).toMatchObject({ width: 228, height: 344 });
    expect(seen.map((i) => i.image)).toEqual(['baby', 'bird', 'butterfly', 'head', 'woman']);
    expect(seen.every((i) => i.set === 'Set5' && i.scale === 4)).toBe(true);
    const meanPsnr = set5.perImage.reduce((s, r) => s + r.psnr, 0) / 5;
    const meanSsim = set5.perImage.reduce((s, r) => s + r.ssim, 0) / 5;
    expect(set5.psnr).toBeCloseTo(meanPsnr, 12);
    expect(set5.ssim).toBeCloseTo(meanSsim, 12);

    expect(events.map((e) => e.status)).toEqual(['set-start', 'image', 'image', 'image', 'image', 'image', 'set']);
    expect(events[0]).toEqual({ status: 'set-start', set: 'Set5', total: 5 });
    const images = events.filter((e) => e.status === 'image');
    expect(images.map((e) => e.index)).toEqual([0, 1, 2, 3, 4]);
    expect(images[2]).toMatchObject({ set: 'Set5', image: 'butterfly', total: 5, psnr: set5.perImage[2].psnr });
    expect(events[6]).toEqual({ status: 'set', set: 'Set5', psnr: set5.psnr, ssim: set5.ssim, images: 5 });
  });

  it('measures each image with the given protocol', async () => {
    const set = await openSet(root, 'Set5', { scale: 4 });
    const { lr, hr } = await set.load(set.pairs[1]);
    const sr = bicubicUpscale(lr, 4);
    const result = await evaluate({ model: bicubic, scale: 4, sets: ['Set5'], root, protocol });
    expect(result.sets.Set5.perImage[1].psnr).toBe(psnr(sr, hr, protocol));
    expect(result.sets.Set5.perImage[1].ssim).toBe(ssim(sr, hr, protocol));
  });

  it('accepts float output and quantizes it under the standard protocol', async () => {
    const floatModel: SrModel = {
      name: 'bicubic-f32',
      upscale: async (lr, info) => imageToF32(bicubicUpscale(lr, info.scale)),
    };
    const [a, b] = await Promise.all([
      evaluate({ model: bicubic, scale: 4, sets: ['Set5'], root, protocol }),
      evaluate({ model: floatModel, scale: 4, sets: ['Set5'], root, protocol }),
    ]);
    expect(b.sets.Set5.psnr).toBe(a.sets.Set5.psnr);
    expect(b.sets.Set5.ssim).toBe(a.sets.Set5.ssim);
  });

  it('reports Infinity PSNR and SSIM 1 for an exact reconstruction', async () => {
    const set = await openSet(root, 'Set5', { scale: 4 });
    const hrs = new Map<string, ImageU8>();
    for (const pair of set.pairs) hrs.set(pair.name, (await set.load(pair)).hr);
    const oracle: SrModel = { name: 'oracle', upscale: (_lr, info) => hrs.get(info.image)! };
    const result = await evaluate({ model: oracle, scale: 4, sets: ['Set5'], root, protocol });
    expect(result.sets.Set5.psnr).toBe(Infinity);
    expect(result.sets.Set5.ssim).toBeCloseTo(1, 12);
    expect(result.sets.Set5.perImage.every((r) => r.psnr === Infinity)).toBe(true);
  });

  it('uses the LR source asked for', async () => {
    const edsr = await evaluate({ model: bicubic, scale: 4, sets: ['Set5'], root, protocol });
    const selfEx = await evaluate({ model: bicubic, scale: 4, sets: ['Set5'], root, protocol, lrSource: 'SelfExSR' });
    expect(selfEx.sets.Set5.images).toBe(5);
    expect(selfEx.sets.Set5.psnr).not.toBe(edsr.sets.Set5.psnr);
    expect(Math.abs(selfEx.sets.Set5.psnr - edsr.sets.Set5.psnr)).toBeLessThan(0.01);
  });

  it('rejects output of the wrong size, naming the model, set and image', async () => {
    const wrong: SrModel = { name: 'off-by-one', upscale: (lr) => bicubicUpscale(lr, 3) };
    const run = evaluate({ model: wrong, scale: 4, sets: ['Set5'], root, protocol });
    await expect(run).rejects.toThrow(DataError);
    await expect(evaluate({ model: wrong, scale: 4, sets: ['Set5'], root, protocol })).rejects.toThrow(
      /model off-by-one returned 384×384×3 for Set5\/baby at x4; the HR image is 512×512×3/,
    );
  });

  it('stops when the signal aborts', async () => {
    const controller = new AbortController();
    let calls = 0;
    const model: SrModel = {
      name: 'bicubic',
      upscale: (lr, info) => {
        calls++;
        return bicubicUpscale(lr, info.scale);
      },
    };
    const run = evaluate({
      model,
      scale: 4,
      sets: ['Set5'],
      root,
      protocol,
      signal: controller.signal,
      onProgress: (e) => {
        if (e.status === 'image' && e.index === 1) controller.abort();
      },
    });
    await expect(run).rejects.toThrow(/abort/i);
    expect(calls).toBe(2);
  });

  it('rejects bad arguments before doing any work', async () => {
    await expect(evaluate({ model: bicubic, scale: 4, sets: [], root, protocol })).rejects.toThrow(/no benchmark sets/);
    await expect(evaluate({ model: bicubic, scale: 4, sets: ['Set5', 'Set5'], root, protocol })).rejects.toThrow(/Set5 is listed twice/);
    await expect(evaluate({ model: bicubic, scale: 0, sets: ['Set5'], root, protocol })).rejects.toThrow(DataError);
    await expect(evaluate({ model: bicubic, scale: 4, sets: ['Set5'], root, protocol: { shave: 4 } as never })).rejects.toThrow(/yChannel/);
    await expect(evaluate({ model: bicubic, scale: 4, sets: ['NoSuchSet'], root, protocol })).rejects.toThrow(DataError);
  });

  it('checks every set name before scoring any image', async () => {
    let calls = 0;
    const model: SrModel = { name: 'counting', upscale: (lr, info) => (calls++, bicubicUpscale(lr, info.scale)) };
    await expect(evaluate({ model, scale: 4, sets: ['Set5', 'NoSuchSet'], root, protocol })).rejects.toThrow(DataError);
    await expect(evaluate({ model, scale: 4, sets: ['Set5', 'Set14'], root, protocol, lrSource: 'edsr_benchmark_via_SwinIR' })).rejects.toThrow(
      /Set14: unknown LR source/,
    );
    expect(calls).toBe(0);
  });
});
