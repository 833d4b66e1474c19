import { copyFileSync, existsSync, mkdirSync, mkdtempSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { encode } from 'jpeg-js';
import { afterAll, describe, expect, it } from 'vitest';
import { crop, modcrop } from './crop.js';
import { GENERATED_LR_SOURCE, openSet } from './datasets.js';
import { DataError } from './errors.js';
import { createImage, type ImageU8 } from './image.js';
import { readImage, writePng } from './image-file.js';
import { bicubicDownscale } from './imresize.js';
import { listSets } from './set-folders.js';
import { testDataRoot } from './test-helpers.js';

const root = testDataRoot('data: the set tests on the SR data') ?? '';
const withData = it.skipIf(root === '');
const tmp = mkdtempSync(join(tmpdir(), 'quantnas-datasets-'));
const cacheDir = join(tmp, 'cache');
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

function gradient(width: number, height: number, channels: 1 | 3, offset = 0): ImageU8 {
  const img = createImage(width, height, channels);
  for (let i = 0; i < img.data.length; i++) img.data[i] = (i * 7 + offset) % 256;
  return img;
}

async function thrown(promise: Promise<unknown>): Promise<Error> {
  try {
    await promise;
  } catch (err) {
    return err as Error;
  }
  throw new Error('expected a rejection');
}

const sameBytes = (a: ImageU8, b: ImageU8): boolean =>
  a.width === b.width && a.height === b.height && a.channels === b.channels && Buffer.from(a.data).equals(Buffer.from(b.data));

describe('listSets', () => {
  withData('lists the shared sets, test and training, sorted', () => {
    const sets = listSets(root);
    for (const s of ['B100', 'BSD200', 'Set14', 'Set5', 'T91']) expect(sets).toContain(s);
    expect([...sets].sort()).toEqual(sets);
  });

  it('skips folders holding neither HR/ nor images', () => {
    const r = join(tmp, 'list-root');
    mkdirSync(join(r, 'empty'), { recursive: true });
    mkdirSync(join(r, 'mine', 'HR'), { recursive: true });
    mkdirSync(join(r, 'flat'), { recursive: true });
    writeFileSync(join(r, 'flat', 'a.jpg'), '');
    expect(listSets(r)).toEqual(['flat', 'mine']);
  });
});

describe('openSet with pairs.csv', () => {
  withData('Set5 has 5 pairs, one LR source (the first listed), sorted by name', async () => {
    const set = await openSet(root, 'Set5', { scale: 2 });
    expect(set.pairs.map((p) => p.name)).toEqual(['baby', 'bird', 'butterfly', 'head', 'woman']);
    expect(set.lrSource).toBe('edsr_benchmark_via_SwinIR');
    expect([set.root, set.dir]).toEqual([root, join(root, 'Set5')]);
    expect(set.pairs.every((p) => p.lrSource === set.lrSource && p.lrPath.includes('LR_bicubic/X2'))).toBe(true);
    const woman = set.pairs[4];
    expect([woman.hrCropWidth, woman.hrCropHeight]).toEqual([228, 344]);
    const { lr, hr, name } = await set.load(woman);
    expect(name).toBe('woman');
    expect([hr.width, hr.height, lr.width, lr.height]).toEqual([228, 344, 114, 172]);
  });

  withData('the HR crop equals modcrop and the EDSR LR equals the exact bicubic of it', async () => {
    const set = await openSet(root, 'Set5', { scale: 3 });
    const pair = set.pairs.find((p) => p.name === 'baby');
    if (pair === undefined) throw new Error('baby missing');
    const { lr, hr } = await set.load(pair);
    expect(sameBytes(hr, modcrop(await readImage(pair.hrPath), 3))).toBe(true);
    expect(sameBytes(lr, bicubicDownscale(hr, 3))).toBe(true);
  });

  withData('selects another LR source on request and names the available ones for an unknown one', async () => {
    const set = await openSet(root, 'Set5', { scale: 4, lrSource: 'SelfExSR' });
    expect(set.pairs).toHaveLength(5);
    expect(set.pairs[0].lrPath).toMatch(/image_SRF_4\/img_001_SRF_4_LR\.png$/);
    const err = await thrown(openSet(root, 'Set5', { scale: 4, lrSource: 'nope' }));
    expect(err).toBeInstanceOf(DataError);
    expect(err.message).toMatch(/"nope"/);
    expect(err.message).toMatch(/available: edsr_benchmark_via_SwinIR, SelfExSR, generated_bicubic/);
  });

  withData('loads the grayscale Set14 bridge as one channel on both sides', async () => {
    const set = await openSet(root, 'Set14', { scale: 3 });
    expect(set.pairs).toHaveLength(14);
    const bridge = set.pairs.find((p) => p.name === 'bridge');
    if (bridge === undefined) throw new Error('bridge missing');
    const { lr, hr } = await set.load(bridge);
    expect([lr.channels, hr.channels]).toEqual([1, 1]);
    expect([lr.width * 3, lr.height * 3]).toEqual([hr.width, hr.height]);
  });

  withData('names the set, the root and the available sets for an unknown set', async () => {
    const err = await thrown(openSet(root, 'Urban100', { scale: 2 }));
    expect(err).toBeInstanceOf(DataError);
    expect(err.message).toContain('"Urban100"');
    expect(err.message).toContain(root);
    expect(err.message).toMatch(/available: .*Set14.*Set5/);
  });

  it('names the csv and the missing file it lists', async () => {
    const set = join(tmp, 'broken', 'Tiny');
    mkdirSync(join(set, 'HR'), { recursive: true });
    await writePng(join(set, 'HR', 'a.png'), gradient(8, 6, 3));
    writeFileSync(join(set, 'pairs.csv'), 'scale,lr,hr,hr_crop_height,hr_crop_width,lr_source\n2,LR/a.png,HR/a.png,6,8,mine\n');
    const err = await thrown(openSet(join(tmp, 'broken'), 'Tiny', { scale: 2 }));
    expect(err).toBeInstanceOf(DataError);
    expect(err.message).toContain(join(set, 'pairs.csv'));
    expect(err.message).toContain(join(set, 'LR', 'a.png'));
    expect(err.message).toMatch(/missing file/);
  });

  it('rejects an LR whose size does not match the HR crop', async () => {
    const setDir = join(tmp, 'mismatch', 'Tiny');
    mkdirSync(join(setDir, 'HR'), { recursive: true });
    await writePng(join(setDir, 'HR', 'a.png'), gradient(8, 6, 3));
    await writePng(join(setDir, 'LR', 'a.png'), gradient(3, 3, 3));
    writeFileSync(join(setDir, 'pairs.csv'), 'scale,lr,hr,hr_crop_height,hr_crop_width,lr_source\n2,LR/a.png,HR/a.png,6,8,mine\n');
    const set = await openSet(join(tmp, 'mismatch'), 'Tiny', { scale: 2 });
    const err = await thrown(set.load(set.pairs[0]));
    expect(err).toBeInstanceOf(DataError);
    expect(err.message).toMatch(/LR is 3x3, but x2 of the HR crop 8x6 needs 4x3/);
  });
});

describe('openSet from HR images only', () => {
  withData('pairs T91 images with their exact bicubic LR, cached outside the data folder', async () => {
    const set = await openSet(root, 'T91', { scale: 3, cacheDir });
    expect(set.pairs).toHaveLength(91);
    expect(set.lrSource).toBe(GENERATED_LR_SOURCE);
    const names = set.pairs.map((p) => p.name);
    expect([...names].sort()).toEqual(names);
    const pair = set.pairs[0];
    expect(pair.lrPath.startsWith(cacheDir)).toBe(true);
    const { lr, hr } = await set.load(pair);
    expect(sameBytes(hr, modcrop(await readImage(pair.hrPath), 3))).toBe(true);
    expect(sameBytes(lr, bicubicDownscale(hr, 3))).toBe(true);
    expect(existsSync(pair.lrPath)).toBe(true);
    expect(sameBytes(await readImage(pair.lrPath), lr)).toBe(true);
  });

  withData('reads the cached LR, and a changed HR gets a new cache entry', async () => {
    const dataRoot = join(tmp, 'own');
    const hrPath = join(dataRoot, 'Mine', 'HR', 'pic.png');
    await writePng(hrPath, gradient(10, 7, 3));
    const first = await openSet(dataRoot, 'Mine', { scale: 2, cacheDir });
    const pair = first.pairs[0];
    expect([pair.hrCropWidth, pair.hrCropHeight]).toEqual([10, 6]);
    const fresh = await first.load(pair);
    // Plant a recognisable LR in the cache: loading must return it rather than recompute.
    const planted = gradient(5, 3, 3, 99);
    await writePng(pair.lrPath, planted);
    expect(sameBytes((await first.load(pair)).lr, planted)).toBe(true);

    await writePng(hrPath, gradient(10, 7, 3, 50));
    utimesSync(hrPath, new Date(), new Date(Date.now() + 5000));
    const second = await openSet(dataRoot, 'Mine', { scale: 2, cacheDir });
    expect(second.pairs[0].lrPath).not.toBe(pair.lrPath);
    const reloaded = await second.load(second.pairs[0]);
    expect(sameBytes(reloaded.lr, bicubicDownscale(reloaded.hr, 2))).toBe(true);
    expect(sameBytes(reloaded.lr, fresh.lr)).toBe(false);
  });

  withData('makes LR from HR for a scale the csv does not list, and on request', async () => {
    const set = await openSet(root, 'Set5', { scale: 5, cacheDir });
    expect(set.lrSource).toBe(GENERATED_LR_SOURCE);
    expect(set.pairs.map((p) => p.name)).toEqual(['baby', 'bird', 'butterfly', 'head', 'woman']);
    const forced = await openSet(root, 'Set5', { scale: 2, lrSource: GENERATED_LR_SOURCE, cacheDir });
    const bird = forced.pairs[1];
    const { lr, hr } = await forced.load(bird);
    const edsr = await readImage(join(root, 'Set5', 'LR_bicubic', 'X2', 'birdx2.png'));
    expect(sameBytes(lr, edsr)).toBe(true);
    expect(sameBytes(hr, crop(await readImage(bird.hrPath), 0, 0, 288, 288))).toBe(true);
  });

  withData('reads a folder of JPEG and PNG images, gray ones as one channel', async () => {
    const dataRoot = join(tmp, 'mixed');
    mkdirSync(join(dataRoot, 'Mixed'), { recursive: true });
    await writePng(join(dataRoot, 'Mixed', 'b.png'), gradient(9, 9, 1));
    copyFileSync(join(root, 'Set5', 'HR', 'bird.png'), join(dataRoot, 'Mixed', 'a.png'));
    const rgba = new Uint8Array(13 * 10 * 4).map((_, i) => (i % 4 === 3 ? 255 : (i * 5) % 256));
    writeFileSync(join(dataRoot, 'Mixed', 'c.jpg'), encode({ width: 13, height: 10, data: rgba }, 90).data);
    const set = await openSet(dataRoot, 'Mixed', { scale: 4, cacheDir });
    expect(set.pairs.map((p) => [p.name, p.hrCropWidth, p.hrCropHeight])).toEqual([
      ['a', 288, 288],
      ['b', 8, 8],
      ['c', 12, 8],
    ]);
    const b = await set.load(set.pairs[1]);
    expect([b.lr.channels, b.lr.width, b.hr.width]).toEqual([1, 2, 8]);
    const c = await set.load(set.pairs[2]);
    expect([c.lr.channels, c.lr.width, c.lr.height, c.hr.width, c.hr.height]).toEqual([3, 3, 2, 12, 8]);
  });
});
