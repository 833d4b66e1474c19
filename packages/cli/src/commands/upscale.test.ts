import { existsSync } from 'node:fs';
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { decodePng, encodePng } from '@quantnas/data';
import { DEFAULT_MODEL, modelCard, modelPath } from '@quantnas/models';
import { encodeArtifact, runReference, syntheticRfdn, validateArtifact } from '@quantnas/runtime';
import { beforeAll, describe, expect, it } from 'vitest';
import { expectOneLineError, runCli as run } from '../test-helpers.js';

const artifact = syntheticRfdn({ channels: 12, cells: 1, scale: 2, seed: 4 });
const modelBytes = encodeArtifact(artifact);
const [W, H] = [21, 17];
const rgb = Uint8Array.from({ length: W * H * 3 }, (_, i) => (i * 37 + ((i * i) >> 3)) & 0xff);
let work: string;
let model: string;
let input: string;

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'quantnas-upscale-'));
  model = join(work, 'model.qnas');
  input = join(work, 'in.png');
  await writeFile(model, modelBytes);
  await writeFile(input, encodePng({ width: W, height: H, channels: 3, data: rgb }));
});

describe('quantnas upscale', () => {
  it('writes the tfjs engine’s image and reports it as JSON', async () => {
    const out = join(work, 'out.png');
    const result = await run(['upscale', '--model', model, input, out, '--json']);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    const json = JSON.parse(result.stdout);
    // A small image: the fast plan's whole-image buffers fit --memory auto's budget.
    expect(json).toMatchObject({ model, input: [W, H], output: [2 * W, 2 * H], engine: 'int8', threads: 1, memory: 'fast' });
    expect(json.ms).toBeGreaterThan(0);
    const png = decodePng(await readFile(out));
    const expected = runReference(validateArtifact(artifact), { width: W, height: H, channels: 3, data: rgb });
    expect([png.width, png.height, png.channels]).toEqual([2 * W, 2 * H, 3]);
    expect(Buffer.from(png.data).equals(Buffer.from(expected.data))).toBe(true);
  });

  it('gives the same bytes on the scalar and tfjs fake-quant engines, on 2 threads and with small tiles', async () => {
    const base = await readFile(join(work, 'out.png'));
    for (const [name, extra] of [
      ['scalar.png', ['--engine', 'scalar']],
      ['ref.png', ['--engine', 'tfjs']],
      ['threads.png', ['--threads', '2', '--tile', '7']],
      ['bounded.png', ['--memory', 'bounded', '--tile', '5']],
      ['bounded-threads.png', ['--memory', 'bounded', '--threads', '2', '--tile', '6']],
    ] as const) {
      const out = join(work, name);
      const result = await run(['upscale', '--model', model, ...extra, input, out]);
      expect(result.code).toBe(0);
      expect(result.stderr).toMatch(new RegExp(`^wrote .*${name} \\(42x34 from 21x17\\) in \\d+ ms`));
      expect((await readFile(out)).equals(base)).toBe(true);
    }
  });

  it('upscales a grayscale image as RGB', async () => {
    const gray = join(work, 'gray.png');
    await writeFile(gray, encodePng({ width: W, height: H, channels: 1, data: rgb.subarray(0, W * H) }));
    const out = join(work, 'gray-out.png');
    const result = await run(['upscale', '--model', model, gray, out, '--json']);
    expect(result.code).toBe(0);
    const png = decodePng(await readFile(out));
    expect([png.width, png.height, png.channels]).toEqual([2 * W, 2 * H, 3]);
  });

  describe('errors: one line, non-zero exit, nothing written', () => {
    const cases: [string, () => Promise<string[]>, string[]][] = [
      ['a missing model', async () => ['--model', join(work, 'none.qnas'), input], ['none.qnas', 'no such file']],
      ['a file that is not a model', async () => ['--model', input, input], ['in.png', 'not a .qnas model']],
      [
        'a truncated model',
        async () => {
          const path = join(work, 'truncated.qnas');
          await writeFile(path, modelBytes.subarray(0, modelBytes.length - 10));
          return ['--model', path, input];
        },
        ['truncated.qnas'],
      ],
      [
        'a tampered model',
        async () => {
          const path = join(work, 'tampered.qnas');
          const bytes = Uint8Array.from(modelBytes);
          bytes[bytes.length - 5]! ^= 0x10;
          await writeFile(path, bytes);
          return ['--model', path, input];
        },
        ['tampered.qnas', 'checksum'],
      ],
      ['a missing image', async () => ['--model', model, join(work, 'none.png')], ['none.png', 'no such file']],
      [
        'an image too small for ESA',
        async () => {
          const path = join(work, 'tiny.png');
          await writeFile(path, encodePng({ width: 8, height: 8, channels: 3, data: rgb.subarray(0, 192) }));
          return ['--model', model, path];
        },
        ['tiny.png', 'too small'],
      ],
      [
        'an image too small, on the tfjs engine',
        async () => {
          const path = join(work, 'tiny-ref.png');
          await writeFile(path, encodePng({ width: 8, height: 8, channels: 3, data: rgb.subarray(0, 192) }));
          return ['--model', model, '--engine', 'tfjs', path];
        },
        ['tiny-ref.png', 'too small'],
      ],
      ['a bad engine', async () => ['--model', model, '--engine', 'fp16', input], ['--engine', "'fp16'", 'int8, tfjs or scalar']],
      ['a bad thread count', async () => ['--model', model, '--threads', '0', input], ['--threads', "'0'"]],
      ['a bad tile', async () => ['--model', model, '--tile', '8px', input], ['--tile', "'8px'"]],
      ['a bad memory plan', async () => ['--model', model, '--memory', 'small', input], ['--memory', "'small'", 'auto, fast or bounded']],
    ];
    it.each(cases)('%s', async (_name, args, mentions) => {
      const out = join(work, 'never.png');
      const result = await run(['upscale', ...(await args()), out]);
      expectOneLineError(result, ...mentions);
      expect(existsSync(out)).toBe(false);
    });
  });
});

describe('quantnas upscale without --model', () => {
  it('uses the bundled model: the same bytes as --model with its path', async () => {
    // Large enough for the model's ESA window at x4.
    const [w, h] = [48, 40];
    const image = join(work, 'bundled-in.png');
    await writeFile(
      image,
      encodePng({ width: w, height: h, channels: 3, data: Uint8Array.from({ length: w * h * 3 }, (_, i) => (i * 29 + ((i * i) >> 5)) & 0xff) }),
    );
    const implicit = join(work, 'bundled-implicit.png');
    const explicit = join(work, 'bundled-explicit.png');
    const a = await run(['upscale', image, implicit, '--json']);
    expect(a.stderr).toBe('');
    expect(a.code).toBe(0);
    expect(JSON.parse(a.stdout)).toMatchObject({ model: modelPath(), input: [w, h], output: [4 * w, 4 * h], engine: 'int8' });
    const b = await run(['upscale', '--model', modelPath(DEFAULT_MODEL), image, explicit]);
    expect(b.code).toBe(0);
    const bytes = await readFile(implicit);
    expect(bytes.equals(await readFile(explicit))).toBe(true);
    expect(modelCard().scale).toBe(4);
    const png = decodePng(bytes);
    expect([png.width, png.height, png.channels]).toEqual([4 * w, 4 * h, 3]);
  });

  it('says so in its help', async () => {
    const help = await run(['upscale', '--help']);
    expect(help.code).toBe(0);
    // Commander wraps the help at the terminal width.
    expect(help.stdout.replace(/\s+/g, ' ')).toContain(`default: the bundled model ${DEFAULT_MODEL}`);
  });
});
