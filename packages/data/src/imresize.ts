import { createImage, type ImageU8 } from './image.js';

/** Resize by a factor (both sides), or to an exact size. */
export type ResizeTarget = { scale: number } | { height: number; width: number };

/**
 * MATLAB's `imresize(img, ..., 'bicubic')` on uint8 images, reproduced bit for bit.
 *
 * The procedure is MATLAB's (`imresize.m`, `contributions`), with 0-based indices here:
 * - cubic kernel with a = −0.5; when shrinking, antialiased: `h(x) = s·cubic(s·x)`, width 4/s;
 * - output pixel x (1-based) samples the input at `u = x/s + 0.5·(1 − 1/s)`, taps
 *   `floor(u − width/2) + 0 … ceil(width) + 1`, weights normalised to sum 1 per output pixel;
 * - taps outside the image are mirrored (symmetric padding: …, 1, 0, 0, 1, …);
 * - the dimension with the smaller scale is resized first (height first when equal), and the
 *   result is rounded to uint8 (half away from zero, saturated) after each pass.
 *
 * With `{ scale }` the output is `ceil(scale · size)` on each side; with `{ height, width }` each
 * dimension uses the scale `out / in`. Reproduces the EDSR/SwinIR Set5 `LR_bicubic` files exactly.
 */
export function imresize(img: ImageU8, target: ResizeTarget): ImageU8 {
  let scaleH: number;
  let scaleW: number;
  let outH: number;
  let outW: number;
  if ('scale' in target) {
    const s = target.scale;
    if (!Number.isFinite(s) || s <= 0) throw new RangeError(`imresize scale must be positive, got ${s}`);
    scaleH = scaleW = s;
    outH = Math.ceil(s * img.height);
    outW = Math.ceil(s * img.width);
  } else {
    outH = target.height;
    outW = target.width;
    if (!Number.isInteger(outH) || !Number.isInteger(outW) || outH < 1 || outW < 1) {
      throw new RangeError(`imresize size must be positive integers, got ${outW}x${outH}`);
    }
    scaleH = outH / img.height;
    scaleW = outW / img.width;
  }
  if (scaleW < scaleH) {
    const mid = resizeWidth(img, contributions(img.width, outW, scaleW));
    return resizeHeight(mid, contributions(img.height, outH, scaleH));
  }
  const mid = resizeHeight(img, contributions(img.height, outH, scaleH));
  return resizeWidth(mid, contributions(img.width, outW, scaleW));
}

/** The bicubic baseline: MATLAB-exact bicubic upscaling of an LR image by an integer `scale`. */
export function bicubicUpscale(lr: ImageU8, scale: number): ImageU8 {
  return imresize(lr, { scale });
}

/** The LR input of the SR protocol: `imresize(modcropped HR, 1/scale)` (HR must divide evenly). */
export function bicubicDownscale(hr: ImageU8, scale: number): ImageU8 {
  if (hr.width % scale !== 0 || hr.height % scale !== 0) {
    throw new RangeError(`a ${hr.width}x${hr.height} image is not divisible by scale ${scale}; modcrop it first`);
  }
  return imresize(hr, { scale: 1 / scale });
}

/** For each output index along one dimension: `taps` input indices and their weights. */
export interface Contributions {
  readonly outLength: number;
  readonly taps: number;
  /** `outLength × taps`, row-major. */
  readonly indices: Int32Array;
  readonly weights: Float64Array;
}

/** MATLAB's cubic kernel (Keys, a = −0.5), written as in `imresize.m` so that rounding matches. */
export function cubic(x: number): number {
  const absx = Math.abs(x);
  const absx2 = absx * absx;
  const absx3 = absx2 * absx;
  return (1.5 * absx3 - 2.5 * absx2 + 1) * (absx <= 1 ? 1 : 0) + (-0.5 * absx3 + 2.5 * absx2 - 4 * absx + 2) * (1 < absx && absx <= 2 ? 1 : 0);
}

/** MATLAB's `contributions(in_length, out_length, scale, @cubic, 4, true)`, 0-based indices. */
export function contributions(inLength: number, outLength: number, scale: number): Contributions {
  const antialias = scale < 1;
  const kernelWidth = antialias ? 4 / scale : 4;
  const p = Math.ceil(kernelWidth) + 2;
  const weights = new Float64Array(outLength * p);
  const indices = new Int32Array(outLength * p);
  for (let i = 0; i < outLength; i++) {
    const x = i + 1;
    const u = x / scale + 0.5 * (1 - 1 / scale);
    const left = Math.floor(u - kernelWidth / 2);
    let sum = 0;
    for (let j = 0; j < p; j++) {
      const d = u - (left + j);
      const w = antialias ? scale * cubic(scale * d) : cubic(d);
      weights[i * p + j] = w;
      sum += w;
    }
    for (let j = 0; j < p; j++) {
      weights[i * p + j] /= sum;
      indices[i * p + j] = mirror(left + j - 1, inLength);
    }
  }
  // Drop tap columns that are zero for every output, as MATLAB does; a zero weight adds exactly
  // nothing, so this only saves work.
  const keep: number[] = [];
  for (let j = 0; j < p; j++) {
    for (let i = 0; i < outLength; i++) {
      if (weights[i * p + j] !== 0) {
        keep.push(j);
        break;
      }
    }
  }
  const taps = keep.length;
  const w2 = new Float64Array(outLength * taps);
  const i2 = new Int32Array(outLength * taps);
  for (let i = 0; i < outLength; i++) {
    for (let t = 0; t < taps; t++) {
      w2[i * taps + t] = weights[i * p + keep[t]];
      i2[i * taps + t] = indices[i * p + keep[t]];
    }
  }
  return { outLength, taps, indices: i2, weights: w2 };
}

/** Symmetric padding: index `k` of the sequence 0, 1, …, n−1, n−1, …, 0 repeated. */
function mirror(k: number, n: number): number {
  const period = 2 * n;
  const m = ((k % period) + period) % period;
  return m < n ? m : period - 1 - m;
}

/** Rounds half away from zero and saturates to 0..255, as MATLAB does when it returns uint8. */
function toU8(v: number): number {
  const r = Math.floor(v + 0.5);
  return r > 255 ? 255 : r > 0 ? r : 0;
}

function resizeHeight(img: ImageU8, c: Contributions): ImageU8 {
  const rowLen = img.width * img.channels;
  const src = img.data;
  const out = createImage(img.width, c.outLength, img.channels);
  const dst = out.data;
  const acc = new Float64Array(rowLen);
  for (let i = 0; i < c.outLength; i++) {
    acc.fill(0);
    // Tap by tap over whole rows: each output sample still sums its taps in MATLAB's order.
    for (let t = 0; t < c.taps; t++) {
      const w = c.weights[i * c.taps + t];
      const base = c.indices[i * c.taps + t] * rowLen;
      for (let k = 0; k < rowLen; k++) acc[k] += w * src[base + k];
    }
    const o = i * rowLen;
    for (let k = 0; k < rowLen; k++) dst[o + k] = toU8(acc[k]);
  }
  return out;
}

function resizeWidth(img: ImageU8, c: Contributions): ImageU8 {
  const { height, width, channels } = img;
  const src = img.data;
  const out = createImage(c.outLength, height, channels);
  const dst = out.data;
  const { taps, weights, indices } = c;
  if (channels === 3) {
    for (let y = 0; y < height; y++) {
      const row = y * width * 3;
      let o = y * c.outLength * 3;
      for (let j = 0; j < c.outLength; j++) {
        let r = 0;
        let g = 0;
        let b = 0;
        for (let t = j * taps, end = t + taps; t < end; t++) {
          const w = weights[t];
          const s = row + indices[t] * 3;
          r += w * src[s];
          g += w * src[s + 1];
          b += w * src[s + 2];
        }
        dst[o++] = toU8(r);
        dst[o++] = toU8(g);
        dst[o++] = toU8(b);
      }
    }
  } else {
    for (let y = 0; y < height; y++) {
      const row = y * width;
      const o = y * c.outLength;
      for (let j = 0; j < c.outLength; j++) {
        let v = 0;
        for (let t = j * taps, end = t + taps; t < end; t++) v += weights[t] * src[row + indices[t]];
        dst[o + j] = toU8(v);
      }
    }
  }
  return out;
}
