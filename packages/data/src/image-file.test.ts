import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PNG } from 'pngjs';
import { afterAll, describe, expect, it } from 'vitest';
import { DataError } from './errors.js';
import { createImage } from './image.js';
import { readImage, readImageInfo, writePng } from './image-file.js';
import { testDataRoot } from './test-helpers.js';

const dir = mkdtempSync(join(tmpdir(), 'quantnas-image-file-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function expectReadError(path: string, pattern: RegExp): Promise<void> {
  let caught: unknown;
  try {
    await readImage(path);
  } catch (err) {
    caught = err;
  }
  expect(caught).toBeInstanceOf(DataError);
  const message = (caught as DataError).message;
  expect(message.startsWith(`${path}: `)).toBe(true);
  expect(message).toMatch(pattern);
  expect(message).not.toContain('\n');
  expect((caught as DataError).subject).toBe(path);
}

describe('readImage / writePng', () => {
  const root = testDataRoot('data: the readImage tests on real PNGs') ?? '';
  const withData = it.skipIf(root === '');
  const real = join(root, 'Set5', 'HR', 'bird.png');
  const realBytes = root === '' ? Buffer.alloc(0) : readFileSync(real);

  it('round-trips an image through writePng and readImage', async () => {
    const img = createImage(
      7,
      5,
      3,
      Uint8Array.from({ length: 105 }, (_, i) => (i * 13) % 256),
    );
    const path = join(dir, 'nested', 'folder', 'out.png');
    await writePng(path, img);
    expect(await readImage(path)).toEqual(img);
    // Atomic write: no temporary file is left beside the result.
    expect(readdirSync(join(dir, 'nested', 'folder'))).toEqual(['out.png']);
  });

  withData('decodes real PNGs exactly as pngjs does (RGB and gray)', async () => {
    for (const file of ['Set5/HR/bird.png', 'Set5/HR/woman.png', 'Set14/HR/bridge.png', 'B100/HR/img_001.png', 'T91/t1.png']) {
      const path = join(root, file);
      const mine = await readImage(path);
      const ref = PNG.sync.read(readFileSync(path));
      expect([mine.width, mine.height]).toEqual([ref.width, ref.height]);
      const n = ref.width * ref.height;
      const c = mine.channels;
      const expected = new Uint8Array(n * c);
      for (let i = 0; i < n; i++) for (let k = 0; k < c; k++) expected[i * c + k] = ref.data[i * 4 + k];
      expect(Buffer.from(mine.data).equals(Buffer.from(expected))).toBe(true);
    }
    expect((await readImage(join(root, 'Set14/HR/bridge.png'))).channels).toBe(1);
  });

  withData('reads the size from the header alone', async () => {
    expect(await readImageInfo(real)).toEqual({ format: 'png', width: 288, height: 288, channels: 3 });
    expect(await readImageInfo(join(root, 'Set14/HR/bridge.png'))).toMatchObject({ channels: 1 });
  });

  it('reports a missing file', async () => {
    await expectReadError(join(dir, 'nope.png'), /no such file/);
  });

  it('reports a folder', async () => {
    await expectReadError(dir, /is a directory/);
  });

  withData('reports the first 100 bytes of a real PNG as truncated', async () => {
    const path = join(dir, 'head100.png');
    writeFileSync(path, realBytes.subarray(0, 100));
    await expectReadError(path, /truncated/);
  });

  withData('reports a PNG cut inside IDAT as truncated', async () => {
    const path = join(dir, 'cut.png');
    writeFileSync(path, realBytes.subarray(0, realBytes.length >> 1));
    await expectReadError(path, /truncated/);
  });

  withData('reports a corrupt CRC', async () => {
    const damaged = Buffer.from(realBytes);
    damaged[5000] ^= 1;
    const path = join(dir, 'crc.png');
    writeFileSync(path, damaged);
    await expectReadError(path, /CRC mismatch/);
  });

  it('reports a file that is not an image', async () => {
    const path = join(dir, 'notes.png');
    writeFileSync(path, 'just some text\n');
    await expectReadError(path, /not a PNG or JPEG image/);
  });
});
