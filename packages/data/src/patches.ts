import { toRgb } from './channels.js';
import { modcrop } from './crop.js';
import { DataError } from './errors.js';
import type { ImageU8 } from './image.js';
import { readImage } from './image-file.js';
import { bicubicDownscale } from './imresize.js';
import { ByteLruCache, type CacheStats } from './lru-cache.js';
import { createRng, type Rng } from './rng.js';
import type { TrainingImage } from './training-images.js';

/** NHWC float32 patches in [0, 1], always three channels (gray images are repeated). */
export interface PatchBatch {
  lr: Float32Array;
  hr: Float32Array;
  lrShape: [n: number, h: number, w: number, c: 3];
  hrShape: [n: number, h: number, w: number, c: 3];
  /** The epoch (0-based) of the batch's first patch. */
  epoch: number;
}

export interface AugmentOptions {
  /** Random horizontal and vertical flips. */
  flip: boolean;
  /** Random transposition; with `flip` this gives all eight 90° rotations and mirrorings. */
  rot90: boolean;
}

/** Makes the LR for a modcropped, RGB HR image; must return `hr` shrunk exactly `scale` times. */
export type LoadLr = (hr: ImageU8, image: TrainingImage, scale: number) => ImageU8 | Promise<ImageU8>;

export interface PatchSamplerOptions {
  images: readonly TrainingImage[];
  scale: number;
  /** LR patch side; HR patches are `lrPatchSize · scale`. */
  lrPatchSize: number;
  batchSize: number;
  seed: number;
  augment: AugmentOptions;
  /** Patches cut from an image each time it is visited (default 1). */
  patchesPerImage?: number;
  /** Cap on decoded images kept in memory (default 256 MiB). */
  cacheBytes?: number;
  /** Default: the exact MATLAB bicubic of the modcropped HR, computed in memory. */
  loadLr?: LoadLr;
  /** Receives one line about skipped images (default: console.warn). */
  onNote?: (message: string) => void;
}

export interface SkippedImage {
  image: TrainingImage;
  reason: string;
}

export interface PatchSampler {
  /** Images used (those large enough for a patch). */
  readonly imagesCount: number;
  readonly skipped: readonly SkippedImage[];
  /** `imagesCount · patchesPerImage`: one epoch visits every image once. */
  readonly patchesPerEpoch: number;
  /** `ceil(patchesPerEpoch / batchSize)`; batches run on across epoch boundaries. */
  readonly batchesPerEpoch: number;
  /** Resolves batches in call order; concurrent calls are queued. */
  next(): Promise<PatchBatch>;
  cacheStats(): CacheStats;
}

interface Decoded {
  hr: ImageU8;
  lr: ImageU8;
}

export const DEFAULT_PATCH_CACHE_BYTES = 256 * 1024 * 1024;

// u8 → [0, 1] as float32, the same values `imageToF32` gives.
const TO_UNIT = Float32Array.from({ length: 256 }, (_, i) => i / 255);

/**
 * Random aligned LR/HR training patches. Each epoch visits the images in a new seeded order and
 * cuts `patchesPerImage` patches per visit; an LR patch at (x, y) pairs with the HR patch at
 * (x·s, y·s), and the same flips/transposition apply to both. Everything random comes from `seed`,
 * so two samplers with the same options yield byte-identical batches. Decoded images are kept in a
 * byte-capped LRU cache, so memory stays bounded for any number of images.
 */
export function createPatchSampler(opts: PatchSamplerOptions): PatchSampler {
  const { scale, lrPatchSize: p, batchSize, augment } = opts;
  const perImage = opts.patchesPerImage ?? 1;
  for (const [name, v] of [
    ['scale', scale],
    ['lrPatchSize', p],
    ['batchSize', batchSize],
    ['patchesPerImage', perImage],
  ] as const) {
    if (!Number.isInteger(v) || v < 1) throw new DataError(`patches: ${name} must be a positive integer, got ${v}`);
  }
  const hrSide = p * scale;
  const images: TrainingImage[] = [];
  const skipped: SkippedImage[] = [];
  for (const image of opts.images) {
    const lrW = Math.floor(image.width / scale);
    const lrH = Math.floor(image.height / scale);
    if (lrW < p || lrH < p) {
      skipped.push({
        image,
        reason: `${image.width}x${image.height} gives a ${lrW}x${lrH} LR at x${scale}, smaller than the ${p}x${p} patch`,
      });
    } else {
      images.push(image);
    }
  }
  if (images.length === 0) {
    throw new DataError(`patches: none of the ${opts.images.length} images is large enough for a ${hrSide}x${hrSide} HR patch (x${scale}, LR patch ${p})`);
  }
  if (skipped.length > 0) {
    const names = skipped.map((s) => `${s.image.set}/${s.image.name}`);
    const shown = names.length > 5 ? `${names.slice(0, 5).join(', ')}, …` : names.join(', ');
    (opts.onNote ?? console.warn)(
      `patches: skipped ${skipped.length} of ${opts.images.length} images smaller than ${hrSide}x${hrSide} after modcrop (${shown})`,
    );
  }

  const cache = new ByteLruCache<string, Decoded>(opts.cacheBytes ?? DEFAULT_PATCH_CACHE_BYTES, (d) => d.hr.data.byteLength + d.lr.data.byteLength);
  const loadLr: LoadLr = opts.loadLr ?? ((hr, _image, s) => bicubicDownscale(hr, s));
  const orderRng = createRng(opts.seed).fork('epoch-order');
  const cropRng = createRng(opts.seed).fork('crops');
  // A stream of its own, so that switching augmentation on or off keeps the same crops.
  const augmentRng = createRng(opts.seed).fork('augment');

  let epoch = -1;
  let order: TrainingImage[] = [];
  let position = order.length;
  let usedInVisit = perImage;
  let current: Decoded | undefined;

  const load = async (image: TrainingImage): Promise<Decoded> => {
    const hit = cache.get(image.path);
    if (hit !== undefined) return hit;
    const hr = modcrop(toRgb(await readImage(image.path)), scale);
    const lr = toRgb(await loadLr(hr, image, scale));
    if (lr.width * scale !== hr.width || lr.height * scale !== hr.height) {
      throw new DataError(`${image.path}: LR is ${lr.width}x${lr.height}, expected ${hr.width / scale}x${hr.height / scale} for x${scale}`, image.path);
    }
    if (hr.width < hrSide || hr.height < hrSide) {
      throw new DataError(`${image.path}: decoded size ${hr.width}x${hr.height} differs from its header`, image.path);
    }
    const decoded = { hr, lr };
    cache.set(image.path, decoded);
    return decoded;
  };

  const nextPatchSource = async (): Promise<Decoded> => {
    if (usedInVisit >= perImage || current === undefined) {
      if (position >= order.length) {
        epoch++;
        order = orderRng.shuffle(images.slice());
        position = 0;
      }
      current = await load(order[position++]);
      usedInVisit = 0;
    }
    usedInVisit++;
    return current;
  };

  const makeBatch = async (): Promise<PatchBatch> => {
    const lrPatch = p * p * 3;
    const hrPatch = hrSide * hrSide * 3;
    const lr = new Float32Array(batchSize * lrPatch);
    const hr = new Float32Array(batchSize * hrPatch);
    let firstEpoch = -1;
    for (let b = 0; b < batchSize; b++) {
      const src = await nextPatchSource();
      if (b === 0) firstEpoch = epoch;
      const x = cropRng.int(src.lr.width - p + 1);
      const y = cropRng.int(src.lr.height - p + 1);
      const t = drawTransform(augmentRng, augment);
      writePatch(src.lr, x, y, p, t, lr, b * lrPatch);
      writePatch(src.hr, x * scale, y * scale, hrSide, t, hr, b * hrPatch);
    }
    return {
      lr,
      hr,
      lrShape: [batchSize, p, p, 3],
      hrShape: [batchSize, hrSide, hrSide, 3],
      epoch: firstEpoch,
    };
  };

  let queue: Promise<unknown> = Promise.resolve();
  const patchesPerEpoch = images.length * perImage;
  return {
    imagesCount: images.length,
    skipped,
    patchesPerEpoch,
    batchesPerEpoch: Math.ceil(patchesPerEpoch / batchSize),
    next(): Promise<PatchBatch> {
      const result = queue.then(makeBatch);
      queue = result.catch(() => undefined);
      return result;
    },
    cacheStats: () => cache.stats(),
  };
}

/** A flip/transpose combination: output = flipH(flipV(transpose(crop))), each step optional. */
export interface PatchTransform {
  transpose: boolean;
  flipV: boolean;
  flipH: boolean;
}

function drawTransform(rng: Rng, augment: AugmentOptions): PatchTransform {
  const flipH = augment.flip ? rng.bool() : false;
  const flipV = augment.flip ? rng.bool() : false;
  const transpose = augment.rot90 ? rng.bool() : false;
  return { transpose, flipV, flipH };
}

/**
 * Copies the `side`×`side` RGB square at (x0, y0) of `img`, transformed by `t`, into `out` at
 * `offset` as floats in [0, 1]. Output pixel (y, x) reads crop pixel (y', x') with
 * y' = flipV ? side−1−y : y, x' = flipH ? side−1−x : x, swapped when transposing.
 */
export function writePatch(img: ImageU8, x0: number, y0: number, side: number, t: PatchTransform, out: Float32Array, offset: number): void {
  const src = img.data;
  const w = img.width;
  let o = offset;
  for (let y = 0; y < side; y++) {
    const yy = t.flipV ? side - 1 - y : y;
    for (let x = 0; x < side; x++) {
      const xx = t.flipH ? side - 1 - x : x;
      const row = t.transpose ? xx : yy;
      const col = t.transpose ? yy : xx;
      const s = ((y0 + row) * w + (x0 + col)) * 3;
      out[o++] = TO_UNIT[src[s]];
      out[o++] = TO_UNIT[src[s + 1]];
      out[o++] = TO_UNIT[src[s + 2]];
    }
  }
}
