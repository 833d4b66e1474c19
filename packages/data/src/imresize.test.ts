import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { modcrop } from './crop.js';
import { createImage, type ImageU8 } from './image.js';
import { readImage } from './image-file.js';
import { bicubicDownscale, bicubicUpscale, contributions, imresize } from './imresize.js';
import { createRng } from './rng.js';
import { testDataRoot } from './test-helpers.js';

/**
 * MATLAB's imresize written out plainly: for every output sample the weights are recomputed from
 * the formula, over all `ceil(width) + 2` taps (zero ones included), with the mirror table built
 * explicitly as `[1:n, n:-1:1]`. Slow, and shares no code with the implementation.
 */
function referenceImresize(img: ImageU8, outH: number, outW: number, scaleH: number, scaleW: number): ImageU8 {
  const cubicRef = (x: number): number => {
    const a = Math.abs(x);
    if (a <= 1) return 1.5 * (a * a * a) - 2.5 * (a * a) + 1;
    if (a <= 2) return -0.5 * (a * a * a) + 2.5 * (a * a) - 4 * a + 2;
    return 0;
  };
  // Weights and 0-based source indices of output sample `x` (1-based) along a dimension.
  const taps = (x: number, inLen: number, scale: number): { idx: number[]; w: number[] } => {
    const shrink = scale < 1;
    const kernelWidth = shrink ? 4 / scale : 4;
    const u = x / scale + 0.5 * (1 - 1 / scale);
    const left = Math.floor(u - kernelWidth / 2);
    const count = Math.ceil(kernelWidth) + 2;
    const aux: number[] = [];
    for (let i = 1; i <= inLen; i++) aux.push(i);
    for (let i = inLen; i >= 1; i--) aux.push(i);
    const idx: number[] = [];
    const w: number[] = [];
    let sum = 0;
    for (let j = 0; j < count; j++) {
      const ind = left + j;
      const weight = shrink ? scale * cubicRef(scale * (u - ind)) : cubicRef(u - ind);
      w.push(weight);
      sum += weight;
      const m = (((ind - 1) % aux.length) + aux.length) % aux.length;
      idx.push(aux[m] - 1);
    }
    return { idx, w: w.map((v) => v / sum) };
  };
  const round = (v: number): number => Math.min(255, Math.max(0, v < 0 ? -Math.round(-v) : Math.floor(v + 0.5)));
  const c = img.channels;
  const alongHeight = (src: ImageU8): ImageU8 => {
    const out = createImage(src.width, outH, c);
    for (let y = 0; y < outH; y++) {
      const { idx, w } = taps(y + 1, src.height, scaleH);
      for (let x = 0; x < src.width; x++) {
        for (let k = 0; k < c; k++) {
          let acc = 0;
          for (let t = 0; t < idx.length; t++) acc += w[t] * src.data[(idx[t] * src.width + x) * c + k];
          out.data[(y * src.width + x) * c + k] = round(acc);
        }
      }
    }
    return out;
  };
  const alongWidth = (src: ImageU8): ImageU8 => {
    const out = createImage(outW, src.height, c);
    for (let x = 0; x < outW; x++) {
      const { idx, w } = taps(x + 1, src.width, scaleW);
      for (let y = 0; y < src.height; y++) {
        for (let k = 0; k < c; k++) {
          let acc = 0;
          for (let t = 0; t < idx.length; t++) acc += w[t] * src.data[(y * src.width + idx[t]) * c + k];
          out.data[(y * outW + x) * c + k] = round(acc);
        }
      }
    }
    return out;
  };
  return scaleW < scaleH ? alongHeight(alongWidth(img)) : alongWidth(alongHeight(img));
}

function randomImage(seed: number, width: number, height: number, channels: 1 | 3): ImageU8 {
  const rng = createRng(seed);
  const img = createImage(width, height, channels);
  // Mostly extremes, so the kernel's negative lobes overshoot and clamping is exercised.
  for (let i = 0; i < img.data.length; i++) img.data[i] = rng.next() < 0.5 ? rng.int(256) : rng.bool() ? 0 : 255;
  return img;
}

describe('imresize (MATLAB bicubic)', () => {
  const root = testDataRoot('data: imresize against the Set5 LR_bicubic files') ?? '';
  const withData = it.skipIf(root === '');
  const names = ['baby', 'bird', 'butterfly', 'head', 'woman'];

  for (const s of [2, 3, 4]) {
    withData(`reproduces Set5 LR_bicubic/X${s} with zero differing pixels`, async () => {
      for (const name of names) {
        const hr = modcrop(await readImage(join(root, 'Set5', 'HR', `${name}.png`)), s);
        const expected = await readImage(join(root, 'Set5', 'LR_bicubic', `X${s}`, `${name}x${s}.png`));
        const lr = imresize(hr, { scale: 1 / s });
        expect([lr.width, lr.height, lr.channels]).toEqual([expected.width, expected.height, expected.channels]);
        let differing = 0;
        for (let i = 0; i < lr.data.length; i++) if (lr.data[i] !== expected.data[i]) differing++;
        expect({ name, differing }).toEqual({ name, differing: 0 });
        expect(Buffer.from(bicubicDownscale(hr, s).data).equals(Buffer.from(lr.data))).toBe(true);
      }
    });
  }

  it('equals the plain reference on random images at many scales, up and down', () => {
    const scales = [0.37, 0.5, 1 / 3, 0.25, 0.8, 0.999, 1.5, 2, 2.7, 3, 4];
    let seed = 1;
    for (const scale of scales) {
      for (const [w, h, c] of [
        [1, 1, 3],
        [2, 5, 1],
        [7, 4, 3],
        [13, 9, 3],
        [16, 11, 1],
      ] as const) {
        const img = randomImage(seed++, w, h, c);
        const outH = Math.ceil(scale * h);
        const outW = Math.ceil(scale * w);
        const got = imresize(img, { scale });
        expect([got.width, got.height]).toEqual([outW, outH]);
        expect({ scale, w, h, data: [...got.data] }).toEqual({
          scale,
          w,
          h,
          data: [...referenceImresize(img, outH, outW, scale, scale).data],
        });
      }
    }
  });

  it('equals the reference for explicit sizes, where the smaller scale goes first', () => {
    const img = randomImage(99, 12, 10, 3);
    for (const [outH, outW] of [
      [4, 30],
      [25, 5],
      [10, 7],
      [3, 12],
      [17, 17],
    ] as const) {
      const got = imresize(img, { height: outH, width: outW });
      const ref = referenceImresize(img, outH, outW, outH / 10, outW / 12);
      expect([...got.data]).toEqual([...ref.data]);
    }
  });

  it('the order of the passes matters, and height goes first at equal scales', () => {
    // If the passes were swapped, intermediate rounding would differ on some pixel.
    const img = randomImage(5, 20, 20, 1);
    const got = imresize(img, { scale: 0.37 });
    const swapped = referenceImresize(img, 8, 8, 0.37, 0.37 - 1e-12);
    expect([...got.data]).toEqual([...referenceImresize(img, 8, 8, 0.37, 0.37).data]);
    expect([...got.data]).not.toEqual([...swapped.data]);
  });

  it('scale 1 is the identity', () => {
    const img = randomImage(7, 9, 6, 3);
    expect(imresize(img, { scale: 1 })).toEqual(img);
    expect(imresize(img, { height: 6, width: 9 })).toEqual(img);
  });

  it('keeps a constant image constant at any scale', () => {
    for (const v of [0, 1, 128, 254, 255]) {
      const img = createImage(15, 11, 3, new Uint8Array(15 * 11 * 3).fill(v));
      for (const scale of [0.25, 0.37, 1 / 3, 1.5, 4]) {
        const out = imresize(img, { scale });
        expect(out.data.every((x) => x === v)).toBe(true);
      }
    }
  });

  it('gives MATLAB output sizes: ceil(scale · size)', () => {
    const img = createImage(510, 342, 1);
    expect([imresize(img, { scale: 1 / 3 }).width, imresize(img, { scale: 1 / 3 }).height]).toEqual([170, 114]);
    const small = createImage(10, 7, 1);
    const out = imresize(small, { scale: 0.37 });
    expect([out.width, out.height]).toEqual([4, 3]);
    expect(bicubicUpscale(small, 3).width).toBe(30);
  });

  it('weights are normalised and mirrored at the borders', () => {
    const c = contributions(5, 2, 0.5);
    for (let i = 0; i < c.outLength; i++) {
      let sum = 0;
      for (let t = 0; t < c.taps; t++) sum += c.weights[i * c.taps + t];
      expect(sum).toBeCloseTo(1, 12);
    }
    for (const idx of c.indices) expect(idx >= 0 && idx < 5).toBe(true);
    // Upscaling a 1-pixel image mirrors that pixel everywhere.
    const one = createImage(1, 1, 3, Uint8Array.of(10, 20, 30));
    expect([...bicubicUpscale(one, 2).data]).toEqual([10, 20, 30, 10, 20, 30, 10, 20, 30, 10, 20, 30]);
  });

  it('rejects bad targets', () => {
    const img = createImage(4, 4, 1);
    expect(() => imresize(img, { scale: 0 })).toThrow(RangeError);
    expect(() => imresize(img, { scale: Number.NaN })).toThrow(RangeError);
    expect(() => imresize(img, { height: 2.5, width: 2 })).toThrow(RangeError);
    expect(() => bicubicDownscale(createImage(5, 4, 1), 2)).toThrow(/modcrop/);
  });
});
