import { mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { bicubicDownscale, bicubicUpscale, encodePng, type ImageU8 } from '@quantnas/data';
import { encodeArtifact, syntheticRfdn } from '@quantnas/runtime';
import { beforeAll, describe, expect, it } from 'vitest';
import { esrganSlimMissing, findEsrganSlim, loadEsrganSlim } from '../esrgan-slim.js';
import { runCli as run } from '../test-helpers.js';

/** Smooth gradients and a soft edge: a picture whose x4 any sensible upscaler gets close to bicubic on. */
function smooth(width: number, height: number): ImageU8 {
  const data = new Uint8Array(width * height * 3);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const edge = 80 / (1 + Math.exp(-(x - width / 2) / 3));
      data.set(
        [60 + 2 * x + edge, 90 + 2 * y, 150 - x - y + edge / 2].map((v) => Math.max(0, Math.min(255, Math.round(v)))),
        (y * width + x) * 3,
      );
    }
  }
  return { width, height, channels: 3, data };
}

function rgbPsnr(a: Uint8Array, b: Uint8Array): number {
  let sum = 0;
  for (let i = 0; i < a.length; i++) sum += (a[i]! - b[i]!) ** 2;
  return 10 * Math.log10((255 * 255 * a.length) / sum);
}

// The package is a devDependency; without it (an install that omits dev dependencies) the tests
// that run it are skipped, saying why.
const missing = esrganSlimMissing();
if (missing !== undefined) console.warn(`skipping the ESRGAN Slim tests: ${missing}`);

describe('@upscalerjs/esrgan-slim', () => {
  it.skipIf(missing !== undefined)('loads the x4 model from the installed files and upscales a tiny image sensibly', async () => {
    const files = await findEsrganSlim(4);
    expect(files.modelJson).toMatch(/models[/\\]x4[/\\]model\.json$/);
    const model = await loadEsrganSlim(files);
    try {
      expect(model.format).toBe('layers-model');
      expect(model.params).toBeGreaterThan(100_000);
      const lr = smooth(12, 10);
      const sr = await model.upscale({ width: 12, height: 10, channels: 3, data: lr.data });
      expect([sr.width, sr.height, sr.channels]).toEqual([48, 40, 3]);
      // Inputs and outputs on the [0, 255] scale: close to bicubic on a smooth picture (a wrong range
      // gives a black or saturated image, tens of dB away).
      expect(rgbPsnr(sr.data, bicubicUpscale(lr, 4).data)).toBeGreaterThan(25);
    } finally {
      model.dispose();
    }
  });

  it('names a model.json that does not exist', async () => {
    await expect(findEsrganSlim(4, join(tmpdir(), 'no-such-model.json'))).rejects.toThrow(/no-such-model\.json: no such file/);
  });
});

describe('bench esrgan-slim', () => {
  let root: string;
  let modelX4: string;
  let modelX2: string;

  beforeAll(async () => {
    const work = await mkdtemp(join(tmpdir(), 'quantnas-bench-esrgan-'));
    // A one-image set: HR 96×80 and its MATLAB bicubic LR (24×20, enough for ESA), listed in pairs.csv.
    root = join(work, 'data');
    const set = join(root, 'Tiny');
    await mkdir(join(set, 'HR'), { recursive: true });
    await mkdir(join(set, 'LR'), { recursive: true });
    const hr = smooth(96, 80);
    await writeFile(join(set, 'HR', 'pic.png'), encodePng(hr));
    await writeFile(join(set, 'LR', 'picx4.png'), encodePng(bicubicDownscale(hr, 4)));
    await writeFile(join(set, 'pairs.csv'), 'scale,lr,hr,hr_crop_height,hr_crop_width,lr_source\n4,LR/picx4.png,HR/pic.png,80,96,test\n');
    for (const scale of [4, 2]) {
      const artifact = syntheticRfdn({ channels: 12, cells: 1, scale, seed: 4 });
      const path = join(work, `x${scale}.qnas`);
      await writeFile(path, encodeArtifact(artifact.header, artifact.blob));
      if (scale === 4) modelX4 = path;
      else modelX2 = path;
    }
  });

  it('explains itself', async () => {
    const result = await run(['bench', 'esrgan-slim', '--help']);
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('Usage: quantnas bench esrgan-slim');
    expect(result.stdout).toMatch(/--model <file>[\s\S]*--sets <list>[\s\S]*--json/);
  });

  it.skipIf(missing !== undefined)('scores both models and bicubic on a set, with times, as one JSON object', async () => {
    const result = await run(['bench', 'esrgan-slim', '--model', modelX4, '--sets', 'Tiny', '--data', root, '--per-image', '--json']);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    const json = JSON.parse(result.stdout);
    expect(json).toMatchObject({ model: modelX4, scale: 4, threads: 1, protocol: { shave: 4, yChannel: true, roundToUint8: true } });
    expect(json.esrgan_slim).toMatchObject({ package: '@upscalerjs/esrgan-slim', format: 'layers-model' });
    const tiny = json.sets.Tiny;
    expect(tiny.images).toBe(1);
    for (const key of ['esrgan_slim', 'int8']) {
      expect(tiny[key].psnr, key).toBeGreaterThan(0);
      expect(tiny[key].ssim, key).toBeLessThanOrEqual(1);
      expect(tiny[key].ms_per_image, key).toBeGreaterThan(0);
    }
    // Smooth picture: bicubic is nearly exact and ESRGAN Slim close (the synthetic model's weights are random, so
    // its image is not meaningful).
    expect(tiny.bicubic.psnr).toBeGreaterThan(30);
    expect(tiny.esrgan_slim.psnr).toBeGreaterThan(30);
    expect(tiny.bicubic.ms_per_image).toBeNull();
    expect(tiny.perImage).toHaveLength(1);
    expect(tiny.perImage[0]).toMatchObject({ image: 'pic', width: 96, height: 80 });
  });

  it.skipIf(missing !== undefined)('prints a table', async () => {
    const result = await run(['bench', 'esrgan-slim', '--model', modelX4, '--sets', 'Tiny', '--data', root]);
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/set\s+model\s+images\s+PSNR dB\s+SSIM\s+ms\/image/);
    expect(result.stdout).toMatch(/^Tiny\s+esrgan-slim\s+1\s+[\d.]+\s+[\d.]+\s+[\d.]+$/m);
    expect(result.stdout).toMatch(/^Tiny\s+int8 \.qnas\s+1\s+[\d.]+/m);
    expect(result.stdout).toMatch(/^Tiny: int8 [+-][\d.]+ dB vs esrgan-slim, [\d.]+× its speed$/m);
  });

  it('refuses a model of another scale, an unknown set, a missing model and an image too small, in one line', async () => {
    const small = join(root, 'Small');
    await mkdir(small, { recursive: true });
    const hr = smooth(32, 32);
    await writeFile(join(small, 'tiny.png'), encodePng(hr));
    await writeFile(join(small, 'tinyx4.png'), encodePng(bicubicDownscale(hr, 4)));
    await writeFile(join(small, 'pairs.csv'), 'scale,lr,hr,hr_crop_height,hr_crop_width,lr_source\n4,tinyx4.png,tiny.png,32,32,test\n');
    for (const [argv, mention] of [
      ...(missing === undefined ? ([[['--model', modelX4, '--sets', 'Small', '--data', root], 'Small/tiny: layer']] as const) : []),
      [['--model', modelX2, '--sets', 'Tiny', '--data', root], 'is a x2 model; --scale is 4'],
      [['--model', modelX4, '--sets', 'Nope', '--data', root], 'unknown set "Nope"'],
      [['--model', join(tmpdir(), 'absent-model.qnas'), '--sets', 'Tiny', '--data', root], 'no such file'],
    ] as const) {
      const result = await run(['bench', 'esrgan-slim', ...argv, '--json']);
      expect(result.code).not.toBe(0);
      expect(result.stdout).toBe('');
      expect(result.stderr.trimEnd().split('\n')).toHaveLength(1);
      expect(result.stderr).toContain(mention);
    }
  });
});
