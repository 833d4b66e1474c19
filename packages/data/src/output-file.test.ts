import { mkdtemp, readFile, rm, symlink, writeFile, lstat, mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DataError } from './errors.js';
import { createImage } from './image.js';
import { writePng } from './image-file.js';
import { checkOutputPath, writeOutputFile } from './output-file.js';

describe('writeOutputFile / writePng with output options', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'qnas-out-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });
  const img = createImage(2, 2, 1, Uint8Array.of(1, 2, 3, 4));

  it('writes a new file and refuses to replace it without force', async () => {
    const path = join(dir, 'new.bin');
    await writeOutputFile(path, Uint8Array.of(1));
    await expect(writeOutputFile(path, Uint8Array.of(2))).rejects.toThrow(new RegExp(`^${path}: exists; use --force to replace it$`));
    expect([...(await readFile(path))]).toEqual([1]);
    await writeOutputFile(path, Uint8Array.of(3), { force: true });
    expect([...(await readFile(path))]).toEqual([3]);
  });

  it('refuses a device node even with force, leaving it a device', async () => {
    await expect(writePng('/dev/null', img, { force: true })).rejects.toThrow(/^\/dev\/null: is not a regular file \(a device\); refusing to replace it$/);
    expect((await lstat('/dev/null')).isCharacterDevice()).toBe(true);
  });

  it('refuses a directory and a symbolic link, even with force', async () => {
    const sub = join(dir, 'sub');
    await mkdir(sub);
    await expect(writePng(sub, img, { force: true })).rejects.toThrow(/is not a regular file \(a directory\)/);
    const target = join(dir, 'target.txt');
    await writeFile(target, 'keep');
    const link = join(dir, 'link.png');
    await symlink(target, link);
    await expect(writePng(link, img, { force: true })).rejects.toThrow(DataError);
    await expect(writePng(link, img, { force: true })).rejects.toThrow(/link\.png: is a symbolic link; refusing to replace it/);
    expect((await lstat(link)).isSymbolicLink()).toBe(true);
    expect(await readFile(target, 'utf8')).toBe('keep');
  });

  it('refuses an output that is one of the inputs, even with force (also through another path)', async () => {
    const input = join(dir, 'in.png');
    await writePng(input, img);
    const before = await readFile(input);
    const other = join(dir, 'sub', '..', 'in.png');
    await expect(writePng(other, img, { force: true, inputs: [input] })).rejects.toThrow(/in\.png: is also the input .*in\.png; refusing to overwrite it$/);
    await symlink(input, join(dir, 'alias-link.png'));
    await expect(checkOutputPath(input, { force: true, inputs: [join(dir, 'alias-link.png')] })).rejects.toThrow(/is also the input/);
    expect(await readFile(input)).toEqual(before);
  });

  it('without output options writePng still replaces a regular file (caches)', async () => {
    const path = join(dir, 'cache.png');
    await writePng(path, img);
    await writePng(path, img);
  });
});
