import type { BenchmarkSet, ImageF32, ImageU8 } from '@quantnas/data';
import { DataError, GENERATED_LR_SOURCE, openSet } from '@quantnas/data';
import { checkMetricOptions, type MetricOptions } from './protocol.js';
import { psnr } from './psnr.js';
import { ssim } from './ssim.js';

/** What the evaluator tells a model about the image it is upscaling. */
export interface UpscaleInfo {
  readonly set: string;
  readonly image: string;
  readonly scale: number;
}

/** Anything that turns an LR image into an SR image of exactly `scale` times its size. */
export interface SrModel {
  readonly name: string;
  upscale(lr: ImageU8, info: UpscaleInfo): ImageU8 | ImageF32 | Promise<ImageU8 | ImageF32>;
}

export interface ImageResult {
  readonly image: string;
  readonly psnr: number;
  readonly ssim: number;
  /** Size of the measured (modcropped) HR image, before shaving. */
  readonly width: number;
  readonly height: number;
}

export interface SetResult {
  /** Mean over images of the per-image PSNR (the usual SR-table convention); Infinity if any image is exact. */
  readonly psnr: number;
  /** Mean over images of the per-image SSIM. */
  readonly ssim: number;
  readonly images: number;
  readonly perImage: readonly ImageResult[];
}

export interface EvaluationResult {
  readonly model: string;
  readonly scale: number;
  readonly protocol: MetricOptions;
  /** Keyed by set name, in the order the sets were given. */
  readonly sets: Readonly<Record<string, SetResult>>;
}

/** Progress, in order: `set-start`, then one `image` per image, then `set`, for each set. */
export type EvaluationEvent =
  | { readonly status: 'set-start'; readonly set: string; readonly total: number }
  | {
      readonly status: 'image';
      readonly set: string;
      readonly image: string;
      /** 0-based position of this image in the set. */
      readonly index: number;
      readonly total: number;
      readonly psnr: number;
      readonly ssim: number;
    }
  | { readonly status: 'set'; readonly set: string; readonly psnr: number; readonly ssim: number; readonly images: number };

export interface EvaluateOptions {
  readonly model: SrModel;
  readonly scale: number;
  /** Benchmark set names as the data root names them, e.g. `['Set5', 'Set14', 'B100']`. */
  readonly sets: readonly string[];
  /** The data root (see `resolveDataRoot` in @quantnas/data). */
  readonly root: string;
  /** How to measure; required so that every reported number states its protocol. */
  readonly protocol: MetricOptions;
  /**
   * LR source for every set (e.g. `SelfExSR`, which all test sets have); a set without it is an
   * error. Default: each set's first-listed source (for Set5, the EDSR files).
   */
  readonly lrSource?: string;
  readonly onProgress?: (event: EvaluationEvent) => void;
  readonly signal?: AbortSignal;
}

function mean(values: readonly number[]): number {
  let s = 0;
  for (const v of values) s += v;
  return s / values.length;
}

/**
 * Scores a model on benchmark sets. Images are processed one at a time, so memory stays at one
 * LR/HR/SR triple whatever the set size.
 */
export async function evaluate(options: EvaluateOptions): Promise<EvaluationResult> {
  const { model, scale, sets, root, protocol, lrSource, onProgress, signal } = options;
  checkMetricOptions(protocol);
  if (!Number.isInteger(scale) || scale < 1) {
    throw new DataError(`scale must be a positive integer, got ${String(scale)}`);
  }
  if (sets.length === 0) throw new DataError('no benchmark sets to evaluate');
  const duplicate = sets.find((s, i) => sets.indexOf(s) !== i);
  if (duplicate !== undefined) throw new DataError(`set ${duplicate} is listed twice`, duplicate);

  // Open every set first, so that a mistyped name or LR source fails before any scoring.
  const opened: BenchmarkSet[] = [];
  for (const setName of sets) {
    opened.push(await openSet(root, setName, lrSource === undefined ? { scale } : { scale, lrSource }));
  }
  const results: Record<string, SetResult> = {};
  for (const [i, set] of opened.entries()) {
    signal?.throwIfAborted();
    const setName = sets[i];
    const total = set.pairs.length;
    onProgress?.({ status: 'set-start', set: setName, total });
    const perImage: ImageResult[] = [];
    for (let index = 0; index < total; index++) {
      signal?.throwIfAborted();
      const pair = set.pairs[index];
      const { name, lr, hr } = await set.load(pair);
      let sr: ImageU8 | ImageF32;
      try {
        sr = await model.upscale(lr, { set: setName, image: name, scale });
      } catch (error) {
        // Engines report an input too small for the model (a pooling window, a 'valid' conv) as a
        // RangeError naming the layer; the user needs the image's file too.
        if (!(error instanceof RangeError)) throw error;
        const file = pair.lrSource === GENERATED_LR_SOURCE ? `${pair.hrPath} (its x${scale} bicubic LR)` : pair.lrPath;
        throw new DataError(`${file}: ${error.message.split('\n')[0]}`, file);
      }
      signal?.throwIfAborted();
      if (sr.width !== hr.width || sr.height !== hr.height || sr.channels !== hr.channels) {
        throw new DataError(
          `model ${model.name} returned ${sr.width}×${sr.height}×${sr.channels} for ${setName}/${name} ` +
            `at x${scale}; the HR image is ${hr.width}×${hr.height}×${hr.channels} (W×H×C)`,
          `${setName}/${name}`,
        );
      }
      const p = psnr(sr, hr, protocol);
      const s = ssim(sr, hr, protocol);
      perImage.push({ image: name, psnr: p, ssim: s, width: hr.width, height: hr.height });
      onProgress?.({ status: 'image', set: setName, image: name, index, total, psnr: p, ssim: s });
    }
    const result: SetResult = {
      psnr: mean(perImage.map((r) => r.psnr)),
      ssim: mean(perImage.map((r) => r.ssim)),
      images: perImage.length,
      perImage,
    };
    results[setName] = result;
    onProgress?.({ status: 'set', set: setName, psnr: result.psnr, ssim: result.ssim, images: result.images });
  }
  return { model: model.name, scale, protocol: { ...protocol }, sets: results };
}
