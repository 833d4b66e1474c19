import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { crop } from './crop.js';
import { flipHorizontal, flipVertical, transpose } from './dihedral.js';
import { DataError } from './errors.js';
import { f32ToImage, imageToF32 } from './float.js';
import { createImage, type ImageU8 } from './image.js';
import { writePng } from './image-file.js';
import { imresize } from './imresize.js';
import { createPatchSampler, writePatch, type PatchBatch, type PatchSamplerOptions } from './patches.js';
import { createRng } from './rng.js';
import { listTrainingImages, type TrainingImage } from './training-images.js';
import { testDataRoot } from './test-helpers.js';

const root = testDataRoot('data: the patch sampler tests on T91 and BSD200', ['T91', 'BSD200']) ?? '';
const withData = it.skipIf(root === '');
const tmp = mkdtempSync(join(tmpdir(), 'quantnas-patches-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
const t91 = root === '' ? [] : await listTrainingImages(root, ['T91']);
const quiet = (): void => {};

function base(overrides: Partial<PatchSamplerOptions> = {}): PatchSamplerOptions {
  return {
    images: t91.slice(0, 12),
    scale: 2,
    lrPatchSize: 12,
    batchSize: 4,
    seed: 1,
    augment: { flip: true, rot90: true },
    onNote: quiet,
    ...overrides,
  };
}

/** Patch `b` of a batch as an 8-bit image. */
function patch(batch: PatchBatch, which: 'lr' | 'hr', b: number): ImageU8 {
  const [, h, w] = which === 'lr' ? batch.lrShape : batch.hrShape;
  const size = h * w * 3;
  const data = batch[which].subarray(b * size, (b + 1) * size);
  return f32ToImage({ width: w, height: h, channels: 3, data });
}

const bytesOf = (batch: PatchBatch): Buffer => Buffer.concat([Buffer.from(batch.lr.buffer), Buffer.from(batch.hr.buffer)]);

describe('listTrainingImages', () => {
  withData('lists T91 and BSD200 with sizes from their headers', async () => {
    const both = await listTrainingImages(root, ['T91', 'BSD200']);
    expect(both).toHaveLength(291);
    expect(both[0]).toMatchObject({ set: 'T91', name: 't1', channels: 3 });
    expect(both[0].width).toBeGreaterThan(0);
    expect(both.filter((i) => i.set === 'BSD200').every((i) => i.width * i.height === 481 * 321)).toBe(true);
    await expect(listTrainingImages(root, ['T92'])).rejects.toThrow(/unknown set "T92"/);
  });
});

describe('createPatchSampler', () => {
  withData('yields NHWC float32 batches in [0, 1] with HR patches scale times larger', async () => {
    const sampler = createPatchSampler(base({ scale: 3, lrPatchSize: 10, batchSize: 5 }));
    const batch = await sampler.next();
    expect(batch.lrShape).toEqual([5, 10, 10, 3]);
    expect(batch.hrShape).toEqual([5, 30, 30, 3]);
    expect(batch.lr).toHaveLength(5 * 10 * 10 * 3);
    expect(batch.hr).toHaveLength(5 * 30 * 30 * 3);
    expect(batch.hr.every((v) => v >= 0 && v <= 1)).toBe(true);
    expect(sampler.imagesCount).toBe(12);
    expect(sampler.patchesPerEpoch).toBe(12);
    expect(sampler.batchesPerEpoch).toBe(3);
  });

  withData('gives byte-identical batches for the same seed and different ones for another', async () => {
    const a = createPatchSampler(base());
    const b = createPatchSampler(base());
    const c = createPatchSampler(base({ seed: 2 }));
    for (let i = 0; i < 4; i++) {
      const [x, y, z] = await Promise.all([a.next(), b.next(), c.next()]);
      expect(bytesOf(x).equals(bytesOf(y))).toBe(true);
      expect(bytesOf(x).equals(bytesOf(z))).toBe(false);
    }
  });

  withData('queues concurrent next() calls in order', async () => {
    const a = createPatchSampler(base());
    const b = createPatchSampler(base());
    const together = await Promise.all([a.next(), a.next(), a.next()]);
    for (const batch of together) expect(bytesOf(batch).equals(bytesOf(await b.next()))).toBe(true);
  });

  withData('pairs each LR patch with the HR region it was made from (interior equals its bicubic)', async () => {
    for (const scale of [2, 3, 4]) {
      const sampler = createPatchSampler(base({ scale, lrPatchSize: 16, batchSize: 6, augment: { flip: false, rot90: false } }));
      const batch = await sampler.next();
      for (let b = 0; b < 6; b++) {
        const lr = patch(batch, 'lr', b);
        const fromHr = imresize(patch(batch, 'hr', b), { scale: 1 / scale });
        // Away from the patch border the bicubic taps lie inside the HR patch.
        const m = 3;
        expect(crop(fromHr, m, m, 16 - 2 * m, 16 - 2 * m)).toEqual(crop(lr, m, m, 16 - 2 * m, 16 - 2 * m));
      }
    }
  });

  it('applies the same flips and transposition to LR and HR', async () => {
    // HR made of constant s×s blocks, LR = one value per block: aligned patches then satisfy
    // LR(y, x) = HR(y·s + i, x·s + j) for every i, j, under any of the eight transforms.
    const scale = 3;
    const dir = join(tmp, 'blocks');
    mkdirSync(dir, { recursive: true });
    const images: TrainingImage[] = [];
    const rng = createRng(11);
    for (let k = 0; k < 3; k++) {
      const bw = 9 + k;
      const bh = 8;
      const hr = createImage(bw * scale, bh * scale, 3);
      for (let by = 0; by < bh; by++) {
        for (let bx = 0; bx < bw; bx++) {
          const color = [rng.int(256), rng.int(256), rng.int(256)];
          for (let y = 0; y < scale; y++) {
            for (let x = 0; x < scale; x++) {
              const i = ((by * scale + y) * hr.width + bx * scale + x) * 3;
              hr.data.set(color, i);
            }
          }
        }
      }
      const path = join(dir, `b${k}.png`);
      await writePng(path, hr);
      images.push({ set: 'blocks', name: `b${k}`, path, width: hr.width, height: hr.height, channels: 3 });
    }
    const sampler = createPatchSampler({
      images,
      scale,
      lrPatchSize: 6,
      batchSize: 32,
      seed: 3,
      augment: { flip: true, rot90: true },
      loadLr: (hr) => {
        const lr = createImage(hr.width / scale, hr.height / scale, 3);
        for (let y = 0; y < lr.height; y++) {
          for (let x = 0; x < lr.width; x++) {
            lr.data.set(hr.data.subarray((y * scale * hr.width + x * scale) * 3, (y * scale * hr.width + x * scale) * 3 + 3), (y * lr.width + x) * 3);
          }
        }
        return lr;
      },
      onNote: quiet,
    });
    const batch = await sampler.next();
    let mismatches = 0;
    for (let b = 0; b < 32; b++) {
      const lr = patch(batch, 'lr', b);
      const hr = patch(batch, 'hr', b);
      for (let y = 0; y < hr.height; y++) {
        for (let x = 0; x < hr.width; x++) {
          for (let c = 0; c < 3; c++) {
            const l = lr.data[(Math.floor(y / scale) * lr.width + Math.floor(x / scale)) * 3 + c];
            if (hr.data[(y * hr.width + x) * 3 + c] !== l) mismatches++;
          }
        }
      }
    }
    expect(mismatches).toBe(0);
  });

  it('writePatch applies transpose, then vertical flip, then horizontal flip', () => {
    const img = createImage(
      7,
      6,
      3,
      Uint8Array.from({ length: 7 * 6 * 3 }, (_, i) => (i * 29) % 256),
    );
    const region = crop(img, 2, 1, 4, 4);
    for (const transposeOn of [false, true]) {
      for (const flipV of [false, true]) {
        for (const flipH of [false, true]) {
          let expected = transposeOn ? transpose(region) : region;
          if (flipV) expected = flipVertical(expected);
          if (flipH) expected = flipHorizontal(expected);
          const out = new Float32Array(4 * 4 * 3 + 5);
          writePatch(img, 2, 1, 4, { transpose: transposeOn, flipV, flipH }, out, 5);
          expect(out.subarray(5)).toEqual(imageToF32(expected).data);
        }
      }
    }
  });

  withData('augments: without it patches are plain crops, with it some are flipped or transposed', async () => {
    const plain = createPatchSampler(base({ augment: { flip: false, rot90: false }, batchSize: 16 }));
    const augmented = createPatchSampler(base({ augment: { flip: true, rot90: true }, batchSize: 16 }));
    const [p, a] = await Promise.all([plain.next(), augmented.next()]);
    // Same seed, same crop positions: augmented patches are transforms of the plain ones.
    let changed = 0;
    for (let b = 0; b < 16; b++) {
      const pl = patch(p, 'lr', b);
      const au = patch(a, 'lr', b);
      const variants = [pl, flipHorizontal(pl), flipVertical(pl), transpose(pl)];
      const t = transpose(pl);
      variants.push(flipVertical(t), flipHorizontal(t), flipHorizontal(flipVertical(pl)), flipHorizontal(flipVertical(t)));
      expect(variants.some((v) => Buffer.from(v.data).equals(Buffer.from(au.data)))).toBe(true);
      if (!Buffer.from(pl.data).equals(Buffer.from(au.data))) changed++;
    }
    expect(changed).toBeGreaterThan(4);
  });

  withData('visits every image once per epoch, in a new order each epoch', async () => {
    const images = t91.slice(0, 6);
    const seen: string[] = [];
    const sampler = createPatchSampler(
      base({
        images,
        batchSize: 3,
        augment: { flip: false, rot90: false },
        loadLr: (hr, image) => {
          seen.push(image.name);
          return imresize(hr, { scale: 0.5 });
        },
        cacheBytes: 0, // every visit loads, so `seen` records the visiting order
      }),
    );
    const epochs: number[] = [];
    for (let i = 0; i < 4; i++) epochs.push((await sampler.next()).epoch);
    expect(epochs).toEqual([0, 0, 1, 1]);
    const [first, second] = [seen.slice(0, 6), seen.slice(6, 12)];
    expect([...first].sort()).toEqual(images.map((i) => i.name).sort());
    expect([...second].sort()).toEqual([...first].sort());
    expect(second).not.toEqual(first);
  });

  withData('keeps decoded images within the cache cap while iterating a whole set', async () => {
    const cap = 3 * 1024 * 1024;
    const sampler = createPatchSampler({
      images: t91,
      scale: 4,
      lrPatchSize: 12,
      batchSize: 16,
      seed: 5,
      augment: { flip: true, rot90: false },
      cacheBytes: cap,
      onNote: quiet,
    });
    for (let i = 0; i < sampler.batchesPerEpoch + 2; i++) {
      await sampler.next();
      expect(sampler.cacheStats().bytes).toBeLessThanOrEqual(cap);
    }
    const stats = sampler.cacheStats();
    expect(stats.peakBytes).toBeLessThanOrEqual(cap);
    expect(stats.evictions).toBeGreaterThan(0);
    expect(stats.misses).toBeGreaterThanOrEqual(sampler.imagesCount);
  });

  it('expands gray images to three channels', async () => {
    const path = join(tmp, 'gray.png');
    const gray = createImage(
      40,
      40,
      1,
      Uint8Array.from({ length: 1600 }, (_, i) => (i * 3) % 256),
    );
    await writePng(path, gray);
    const image: TrainingImage = { set: 'g', name: 'gray', path, width: 40, height: 40, channels: 1 };
    const batch = await createPatchSampler(base({ images: [image], batchSize: 2 })).next();
    const hr = patch(batch, 'hr', 0);
    for (let i = 0; i < hr.width * hr.height; i++) {
      expect(hr.data[i * 3]).toBe(hr.data[i * 3 + 1]);
      expect(hr.data[i * 3]).toBe(hr.data[i * 3 + 2]);
    }
  });

  withData('skips images too small for a patch with a note, and fails when none is left', () => {
    const notes: string[] = [];
    const small = t91.filter((i) => Math.min(i.width, i.height) < 96);
    expect(small.length).toBeGreaterThan(0);
    const sampler = createPatchSampler(base({ images: t91, lrPatchSize: 48, onNote: (m) => notes.push(m) }));
    expect(sampler.skipped.map((s) => s.image.name)).toEqual(small.map((i) => i.name));
    expect(sampler.imagesCount).toBe(t91.length - small.length);
    expect(notes).toHaveLength(1);
    expect(notes[0]).toMatch(new RegExp(`skipped ${small.length} of 91 images smaller than 96x96`));
    expect(() => createPatchSampler(base({ images: small, lrPatchSize: 48 }))).toThrow(DataError);
    expect(() => createPatchSampler(base({ images: small, lrPatchSize: 48 }))).toThrow(/none of the/);
  });
});
