import { mkdtemp, readFile, writeFile, mkdir, cp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { initBackend } from '@quantnas/core-ops';
import { decodePng } from '@quantnas/data';
import { testDataRoot } from '@quantnas/data/test-helpers';
import { runTraining } from '@quantnas/search';
import { beforeAll, describe, expect, it } from 'vitest';
import { expectOneLineError, runCli as run, tinyBasicGenotype } from './test-helpers.js';

const dataRoot = testDataRoot('cli: the commands on the SR data') ?? '';
const withData = it.skipIf(dataRoot === '');
let work: string;

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'quantnas-cli-'));
});

describe('--help', () => {
  it.each([[[]], [['--help']], [['eval', '--help']], [['downscale', '--help']], [['sets', '--help']]])('explains %j', async (argv) => {
    const result = await run(argv);
    const text = result.stdout + result.stderr;
    expect(text).toContain('Usage: quantnas');
    if (argv[0] === 'eval') expect(text).toMatch(/--data <dir>[\s\S]*--json/);
  });

  it('rejects an unknown subcommand with usage help', async () => {
    const result = await run(['serch']);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain("unknown command 'serch'");
  });
});

describe('eval --model bicubic', () => {
  withData('prints the benchmark JSON shape on Set5 x4, honouring QUANTNAS_DATA', async () => {
    const result = await run(['eval', '--model', 'bicubic', '--scale', '4', '--sets', 'Set5', '--json'], {
      QUANTNAS_DATA: dataRoot,
    });
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    const json = JSON.parse(result.stdout);
    expect(json).toMatchObject({ model: 'bicubic', scale: 4, sets: { Set5: { images: 5 } } });
    expect(Math.abs(json.sets.Set5.psnr - 28.42)).toBeLessThan(0.015);
    expect(Math.abs(json.sets.Set5.ssim - 0.8104)).toBeLessThan(0.002);
  });

  withData('prints a table for people', async () => {
    const result = await run(['eval', '--model', 'bicubic', '--scale', '3', '--sets', 'Set5', '--data', dataRoot]);
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/Set5\s+5\s+30\.(39|40)\s+0\.\d{4}/);
  });

  withData('names an unknown set and the available ones', async () => {
    expectOneLineError(await run(['eval', '--model', 'bicubic', '--sets', 'Set6', '--data', dataRoot]), 'Set6', 'Set5');
  });

  withData('names an unknown model', async () => {
    expectOneLineError(await run(['eval', '--model', 'edsr', '--sets', 'Set5', '--data', dataRoot]), "unknown model 'edsr'");
  });

  it('names the places it looked when the data root is missing', async () => {
    const missing = join(work, 'no-such-dir');
    expectOneLineError(await run(['eval', '--model', 'bicubic', '--sets', 'Set5', '--data', missing]), missing);
    expectOneLineError(await run(['eval', '--model', 'bicubic', '--sets', 'Set5'], { QUANTNAS_DATA: missing }), missing);
  });

  withData('names a file that pairs.csv lists but that does not exist', async () => {
    const root = join(work, 'broken-root');
    await cp(join(dataRoot, 'Set5'), join(root, 'Set5'), { recursive: true });
    const csvPath = join(root, 'Set5', 'pairs.csv');
    const csv = await readFile(csvPath, 'utf8');
    await writeFile(csvPath, csv.replaceAll('LR_bicubic/X4/birdx4.png', 'LR_bicubic/X4/missing-birdx4.png'));
    expectOneLineError(await run(['eval', '--model', 'bicubic', '--sets', 'Set5', '--data', root]), 'missing-birdx4.png');
  });

  withData('rejects a bad scale', async () => {
    expectOneLineError(await run(['eval', '--model', 'bicubic', '--scale', 'four', '--data', dataRoot]), "'four'");
  });
});

describe.skipIf(dataRoot === '')('eval --model <.qnas | training dir>', () => {
  let trained: string;
  let model: string;

  beforeAll(async () => {
    await initBackend('wasm');
    const genotypePath = join(work, 'eval-genotype.json');
    await writeFile(genotypePath, JSON.stringify(tinyBasicGenotype));
    trained = join(work, 'eval-trained');
    await runTraining({
      genotype: genotypePath,
      cells: 1,
      out: trained,
      dataRoot,
      trainSets: ['T91'],
      epochs: 1,
      // Enough steps for a non-trivial image (a flat output would make the agreement check vacuous).
      stepsPerEpoch: 40,
      lr: 5e-3,
      batchSize: 4,
      lrPatchSize: 16,
      validationPatches: 2,
      validationPatchSize: 16,
    });
    model = join(work, 'eval-model.qnas');
    expect((await run(['export', trained, '--out', model])).code).toBe(0);
  });

  it('scores the exported model within 0.01 dB of its checkpoint on every set, with the costs', async () => {
    const sets = 'Set5,Set14';
    const results = await Promise.all([
      run(['eval', '--model', model, '--sets', sets, '--data', dataRoot, '--json']),
      run(['eval', '--model', model, '--engine', 'tfjs', '--sets', 'Set5', '--data', dataRoot, '--json']),
      run(['eval', '--model', model, '--engine', 'scalar', '--sets', 'Set5', '--data', dataRoot, '--json']),
    ]);
    const checkpoint = await run(['eval', '--model', trained, '--sets', sets, '--data', dataRoot, '--json']);
    for (const r of [...results, checkpoint]) {
      expect(r.stderr).toBe('');
      expect(r.code).toBe(0);
    }
    const [int8, tfjs, scalar, fakeQuant] = [...results, checkpoint].map((r) => JSON.parse(r.stdout));
    expect(int8.engine).toBe('int8');
    expect(tfjs.engine).toBe('tfjs');
    expect(scalar.engine).toBe('scalar');
    expect(fakeQuant.engine).toBe('fake-quant');
    // A training directory's network runs on tfjs: the result says on which backend.
    expect(fakeQuant.backend).toBe('wasm');
    expect(int8.backend).toBeUndefined();
    console.log('exported vs checkpoint', { int8: int8.sets, fakeQuant: fakeQuant.sets });
    for (const set of ['Set5', 'Set14']) {
      expect(Math.abs(int8.sets[set].psnr - fakeQuant.sets[set].psnr), set).toBeLessThan(0.01);
      expect(int8.sets[set].psnr).toBeGreaterThan(15);
    }
    expect(scalar.sets.Set5.psnr).toBe(int8.sets.Set5.psnr);
    // The tfjs-wasm fake-quant engine follows the integer arithmetic in float32.
    expect(Math.abs(tfjs.sets.Set5.psnr - int8.sets.Set5.psnr)).toBeLessThan(0.01);
    const summary = JSON.parse(await readFile(join(trained, 'summary.json'), 'utf8'));
    for (const r of [int8, fakeQuant]) {
      expect(r).toMatchObject({
        scale: 4,
        params: summary.cost.params,
        macs_per_pixel: summary.cost.macsPerPixel,
        bitops_32x32: summary.cost.bitops32x32,
        bitops_per_output_mp: summary.cost.bitopsPerOutputMegapixel,
      });
    }
  });

  it('prints the engine and the costs in the table', async () => {
    const result = await run(['eval', '--model', model, '--sets', 'Set5', '--data', dataRoot]);
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/\(int8; Y channel/);
    expect(result.stdout).toMatch(/params, \d+ MACs per LR pixel, BitOps .* at 32×32 LR/);
  });

  it('refuses a model for another scale, a damaged model and misplaced options, in one line', async () => {
    expectOneLineError(await run(['eval', '--model', model, '--scale', '2', '--sets', 'Set5', '--data', dataRoot]), 'is a x4 model; --scale is 2');
    expectOneLineError(await run(['eval', '--model', trained, '--scale', '3', '--sets', 'Set5', '--data', dataRoot]), 'trains a x4 model; --scale is 3');
    expectOneLineError(await run(['eval', '--model', trained, '--engine', 'int8', '--sets', 'Set5', '--data', dataRoot]), '--engine applies to .qnas models');
    expectOneLineError(
      await run(['eval', '--model', model, '--engine', 'fast', '--sets', 'Set5', '--data', dataRoot]),
      "--engine must be int8, tfjs or scalar, got 'fast'",
    );
    expectOneLineError(
      await run(['eval', '--model', 'bicubic', '--engine', 'tfjs', '--sets', 'Set5', '--data', dataRoot]),
      '--engine applies to .qnas models only',
    );
    expectOneLineError(await run(['eval', '--model', join(work, 'absent.qnas'), '--sets', 'Set5', '--data', dataRoot]), 'absent.qnas', 'no such file');
    const torn = join(work, 'torn.qnas');
    await writeFile(torn, (await readFile(model)).subarray(0, 100));
    expectOneLineError(await run(['eval', '--model', torn, '--sets', 'Set5', '--data', dataRoot]), 'torn.qnas');
    const notTrained = join(work, 'not-trained');
    await mkdir(notTrained);
    expectOneLineError(await run(['eval', '--model', notTrained, '--sets', 'Set5', '--data', dataRoot]), 'no best checkpoint');
  });
});

describe('downscale', () => {
  withData.each([2, 3, 4])('reproduces the shipped Set5 LR files at x%i, pixel for pixel', async (scale) => {
    for (const name of ['baby', 'bird', 'butterfly', 'head', 'woman']) {
      const out = join(work, `${name}x${scale}.png`);
      const result = await run(['downscale', '--scale', String(scale), join(dataRoot, 'Set5', 'HR', `${name}.png`), out]);
      expect(result.code).toBe(0);
      const ours = decodePng(await readFile(out));
      const shipped = decodePng(await readFile(join(dataRoot, 'Set5', 'LR_bicubic', `X${scale}`, `${name}x${scale}.png`)));
      expect([ours.width, ours.height]).toEqual([shipped.width, shipped.height]);
      expect(Buffer.compare(Buffer.from(ours.data), Buffer.from(shipped.data))).toBe(0);
    }
  });

  withData('rejects a truncated PNG, naming it, and writes nothing', async () => {
    const truncated = join(work, 'truncated.png');
    const bytes = await readFile(join(dataRoot, 'Set5', 'HR', 'bird.png'));
    await writeFile(truncated, bytes.subarray(0, Math.floor(bytes.length / 2)));
    const out = join(work, 'never.png');
    expectOneLineError(await run(['downscale', '--scale', '4', truncated, out]), truncated);
    await expect(readFile(out)).rejects.toThrow();
  });

  it('rejects a file that is not an image, naming it', async () => {
    const text = join(work, 'notes.png');
    await writeFile(text, 'this is not an image\n');
    expectOneLineError(await run(['downscale', '--scale', '2', text, join(work, 'x.png')]), text);
  });

  it('names a missing input file', async () => {
    const missing = join(work, 'nope.png');
    expectOneLineError(await run(['downscale', '--scale', '2', missing, join(work, 'y.png')]), missing);
  });
});

describe('sets', () => {
  withData('lists the sets at the data root as JSON', async () => {
    await mkdir(work, { recursive: true });
    const result = await run(['sets', '--json', '--data', dataRoot]);
    expect(result.code).toBe(0);
    const json = JSON.parse(result.stdout);
    expect(json.root).toBe(dataRoot);
    const byName = Object.fromEntries(json.sets.map((s: { name: string; pairs: number }) => [s.name, s.pairs]));
    expect(byName).toMatchObject({ Set5: 5, Set14: 14, B100: 100, T91: 91, BSD200: 200 });
  });
});
