import { mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { bicubicDownscale, encodePng, type ImageU8 } from '@quantnas/data';
import { encodeArtifact, syntheticRfdn } from '@quantnas/runtime';
import { beforeAll, describe, expect, it } from 'vitest';
import { expectOneLineError, runCli as run } from '../test-helpers.js';

function picture(width: number, height: number, channels: 1 | 3): ImageU8 {
  const data = new Uint8Array(width * height * channels);
  for (let i = 0; i < data.length; i++) data[i] = (40 + ((i * 7) % 97) + ((i * i) >> 9)) & 0xff;
  return { width, height, channels, data };
}

let root: string;
let model: string;
let work: string;

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'quantnas-eval-engines-'));
  // A two-image set (one RGB, one gray) at x2, listed in pairs.csv.
  root = join(work, 'data');
  const set = join(root, 'Pair');
  await mkdir(set, { recursive: true });
  let csv = 'scale,lr,hr,hr_crop_height,hr_crop_width,lr_source\n';
  for (const [name, hr] of [
    ['rgb', picture(48, 40, 3)],
    ['gray', picture(44, 36, 1)],
  ] as const) {
    await writeFile(join(set, `${name}.png`), encodePng(hr));
    await writeFile(join(set, `${name}x2.png`), encodePng(bicubicDownscale(hr, 2)));
    csv += `2,${name}x2.png,${name}.png,${hr.height},${hr.width},test\n`;
  }
  await writeFile(join(set, 'pairs.csv'), csv);
  // A set whose one image is too small for ESA's pooling window at x2.
  const tiny = join(root, 'Tiny');
  await mkdir(tiny, { recursive: true });
  const small = picture(16, 16, 3);
  await writeFile(join(tiny, 'small.png'), encodePng(small));
  await writeFile(join(tiny, 'smallx2.png'), encodePng(bicubicDownscale(small, 2)));
  await writeFile(join(tiny, 'pairs.csv'), 'scale,lr,hr,hr_crop_height,hr_crop_width,lr_source\n2,smallx2.png,small.png,16,16,test\n');
  model = join(work, 'x2.qnas');
  const artifact = syntheticRfdn({ channels: 12, cells: 1, scale: 2, seed: 4 });
  await writeFile(model, encodeArtifact(artifact.header, artifact.blob));
});

describe('eval --engine', () => {
  it('runs a .qnas model on int8, tfjs (tfjs-wasm fake-quant) and scalar, with the same images', async () => {
    const results = [];
    for (const engine of ['int8', 'tfjs', 'scalar']) {
      const result = await run(['eval', '--model', model, '--engine', engine, '--scale', '2', '--sets', 'Pair', '--data', root, '--per-image', '--json']);
      expect(result.stderr).toBe('');
      expect(result.code).toBe(0);
      const json = JSON.parse(result.stdout);
      expect(json.engine).toBe(engine);
      expect(json.sets.Pair.images).toBe(2);
      results.push(json.sets.Pair.perImage);
    }
    expect(results[1]).toEqual(results[0]);
    expect(results[2]).toEqual(results[0]);
    const table = await run(['eval', '--model', model, '--engine', 'tfjs', '--scale', '2', '--sets', 'Pair', '--data', root]);
    expect(table.stdout).toMatch(/\(tfjs; Y channel/);
  });

  it('rejects an unknown engine, and an engine for bicubic or a training directory, in one line', async () => {
    const empty = join(work, 'not-a-run');
    await mkdir(empty, { recursive: true });
    for (const [argv, message] of [
      [['--model', model, '--engine', 'fp16'], "quantnas: --engine must be int8, tfjs or scalar, got 'fp16'"],
      [
        ['--model', model, '--engine', 'reference'],
        "quantnas: --engine reference is now called tfjs (the model simulated in float32 on tfjs-wasm); scalar is the runtime's reference",
      ],
      [['--model', 'bicubic', '--engine', 'scalar'], 'quantnas: --engine applies to .qnas models only'],
      [['--model', empty, '--engine', 'tfjs'], 'quantnas: --engine applies to .qnas models; a training directory runs its fake-quant network'],
    ] as const) {
      const result = await run(['eval', ...argv, '--scale', '2', '--sets', 'Pair', '--data', root]);
      expect(result.code).toBe(2);
      expect(result.stdout).toBe('');
      expect(result.stderr).toBe(`${message}\n`);
    }
  });

  it.each(['int8', 'scalar', 'tfjs'])('names the image too small for the model (%s), in one line', async (engine) => {
    const result = await run(['eval', '--model', model, '--engine', engine, '--scale', '2', '--sets', 'Tiny', '--data', root]);
    expectOneLineError(result, join(root, 'Tiny', 'smallx2.png'), 'too small');
    expect(result.code).toBe(1);
  });

  it('rejects --backend where it does not apply instead of ignoring it', async () => {
    for (const argv of [
      ['--model', 'bicubic'],
      ['--model', model],
    ]) {
      const result = await run(['eval', ...argv, '--backend', 'nope', '--scale', '2', '--sets', 'Pair', '--data', root]);
      expectOneLineError(result, '--backend applies to a training directory only', "'nope'");
      expect(result.code).toBe(2);
    }
  });
});
