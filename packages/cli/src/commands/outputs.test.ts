import { existsSync, lstatSync } from 'node:fs';
import { mkdtemp, readFile, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { encodePng } from '@quantnas/data';
import { encodeArtifact, syntheticRfdn } from '@quantnas/runtime';
import { beforeAll, describe, expect, it } from 'vitest';
import { expectOneLineError, runCli as run } from '../test-helpers.js';

// What a command may write: never a device, a symbolic link or one of its inputs; an existing file
// only with --force.
const artifact = syntheticRfdn({ channels: 12, cells: 1, scale: 2, seed: 4, esa: false });
const modelBytes = encodeArtifact(artifact.header, artifact.blob);
const [W, H] = [9, 7];
const rgb = Uint8Array.from({ length: W * H * 3 }, (_, i) => (i * 37) & 0xff);
let work: string;
let model: string;
let input: string;

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'quantnas-outputs-'));
  model = join(work, 'model.qnas');
  input = join(work, 'in.png');
  await writeFile(model, modelBytes);
  await writeFile(input, encodePng({ width: W, height: H, channels: 3, data: rgb }));
});

const commands = {
  upscale: (inPath: string, out: string, ...extra: string[]) => ['upscale', '--model', model, ...extra, inPath, out],
  downscale: (inPath: string, out: string, ...extra: string[]) => ['downscale', '--scale', '2', ...extra, inPath, out],
};

describe.each(Object.entries(commands))('%s output', (name, argv) => {
  it('refuses to replace its input, even with --force, leaving it unchanged', async () => {
    const before = await readFile(input);
    expectOneLineError(await run(argv(input, input)), input, 'is also the input');
    expectOneLineError(await run(argv(input, input, '--force')), 'is also the input');
    expect((await readFile(input)).equals(before)).toBe(true);
  });

  it('refuses a device node, even with --force, leaving it a device', async () => {
    expectOneLineError(await run(argv(input, '/dev/null', '--force')), '/dev/null', 'not a regular file');
    expect(lstatSync('/dev/null').isCharacterDevice()).toBe(true);
  });

  it('refuses a symbolic link, even with --force, leaving the link and its target', async () => {
    const target = join(work, `${name}-target.txt`);
    await writeFile(target, 'keep');
    const link = join(work, `${name}-link.png`);
    await symlink(target, link);
    expectOneLineError(await run(argv(input, link, '--force')), link, 'symbolic link');
    expect(lstatSync(link).isSymbolicLink()).toBe(true);
    expect(await readFile(target, 'utf8')).toBe('keep');
  });

  it('refuses an existing file without --force and replaces it with --force', async () => {
    const out = join(work, `${name}-existing.png`);
    await writeFile(out, 'old');
    expectOneLineError(await run(argv(input, out)), out, 'exists; use --force');
    expect(await readFile(out, 'utf8')).toBe('old');
    expect((await run(argv(input, out, '--force'))).code).toBe(0);
    expect(await readFile(out, 'utf8')).not.toBe('old');
  });
});

describe('downscale of an image smaller than the scale', () => {
  it.each([
    [1, 1],
    [2, 2],
    [3, 5],
  ])('%ix%i at x4: one line naming the file, nothing written', async (w, h) => {
    const tiny = join(work, `tiny-${w}x${h}.png`);
    await writeFile(tiny, encodePng({ width: w, height: h, channels: 3, data: new Uint8Array(w * h * 3) }));
    const out = join(work, `tiny-${w}x${h}-out.png`);
    const result = await run(['downscale', '--scale', '4', tiny, out]);
    expectOneLineError(result, tiny, 'smaller than scale 4');
    expect(result.code).toBe(1);
    expect(existsSync(out)).toBe(false);
  });
});

describe('--out naming an existing file where a directory belongs', () => {
  it.each([
    ['search', ['search', '--space', 'basic', '--preset', 'quick']],
    ['train', ['train', '--arch', 'espcn', '--bits', '8', '--preset', 'quick']],
    ['run', ['run', '--arch', 'espcn', '--bits', '8', '--preset', 'quick']],
  ])('%s: one line, the file kept', async (_name, argv) => {
    const file = join(work, 'a-file');
    await writeFile(file, 'keep');
    const result = await run([...argv, '--out', file]);
    expectOneLineError(result, file, 'exists and is not a directory');
    expect(await readFile(file, 'utf8')).toBe('keep');
  });
});
