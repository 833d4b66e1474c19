import { existsSync, mkdirSync, mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { initBackend } from '@quantnas/core-ops';
import { testDataRoot } from '@quantnas/data/test-helpers';
import { decodeArtifact } from '@quantnas/runtime';
import { runTraining, type TrainOptions } from '@quantnas/search';
import { beforeAll, describe, expect, it } from 'vitest';
import { expectOneLineError, runCli as run, tinyBasicGenotype } from '../test-helpers.js';

const work = mkdtempSync(join(tmpdir(), 'quantnas-cli-train-'));
const genotype = tinyBasicGenotype;
const genotypePath = join(work, 'genotype.json');
writeFileSync(genotypePath, JSON.stringify(genotype));
const trained = join(work, 'trained');
const dataRoot = testDataRoot('cli: train and export on a tiny T91 training', ['T91']);
const withData = it.skipIf(dataRoot === undefined);

/** A few steps on tiny T91 patches (the presets are minutes long). */
const tiny = (out: string): TrainOptions => ({
  genotype: genotypePath,
  cells: 1,
  out,
  dataRoot,
  trainSets: ['T91'],
  epochs: 2,
  stepsPerEpoch: 2,
  batchSize: 2,
  lrPatchSize: 12,
  validationPatches: 2,
  validationPatchSize: 12,
});

beforeAll(async () => {
  await initBackend('wasm');
  if (dataRoot !== undefined) await runTraining(tiny(trained));
});

describe('quantnas train', () => {
  it('explains itself', async () => {
    const result = await run(['train', '--help']);
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(
      /--genotype <file>[\s\S]*--out <dir>[\s\S]*--space[\s\S]*--preset[\s\S]*--epochs[\s\S]*--seed[\s\S]*--backend[\s\S]*--data[\s\S]*--resume[\s\S]*--json/,
    );
  });

  it.each([
    [['--preset', 'huge'], "--preset must be one of smoke, quick, cpu, paper, got 'huge'"],
    [['--epochs', '0'], "--epochs must be an integer ≥ 1, got '0'"],
    [['--seed', 'x'], "--seed must be an integer ≥ 0, got 'x'"],
    [['--adq', 'yes'], "--adq must be on or off, got 'yes'"],
    [['--backend', 'tpu'], '--backend'],
  ])('rejects %j with one line', async (extra, message) => {
    expectOneLineError(await run(['train', '--genotype', genotypePath, '--out', join(work, 'never'), ...extra]), message);
    expect(existsSync(join(work, 'never'))).toBe(false);
  });

  it('needs a genotype, readable and for the space given', async () => {
    expectOneLineError(await run(['train', '--out', join(work, 'never')]), '--genotype <file> or --arch <space> is required');
    expectOneLineError(
      await run(['train', '--genotype', genotypePath, '--arch', 'fsrcnn', '--out', join(work, 'never')]),
      '--genotype and --arch exclude each other',
    );
    expectOneLineError(await run(['train', '--genotype', genotypePath, '--bits', '4', '--out', join(work, 'never')]), '--bits applies to --arch only');
    expectOneLineError(await run(['train', '--arch', 'fsrcnn', '--bits', '16', '--out', join(work, 'never')]), '--bits must be 2..8 or 32, got 16');
    expectOneLineError(await run(['train', '--arch', 'vgg', '--out', join(work, 'never')]), "search space 'vgg': no such file");
    expectOneLineError(await run(['train', '--genotype', join(work, 'nope.json'), '--out', join(work, 'never')]), 'nope.json', 'cannot read the genotype');
    expectOneLineError(
      await run(['train', '--genotype', genotypePath, '--space', 'rfdn', '--out', join(work, 'never')]),
      "the genotype is for space 'basic', not 'rfdn'",
    );
    const bad = join(work, 'bad.json');
    writeFileSync(bad, JSON.stringify({ ...genotype, blocks: { ...genotype.blocks, tail2: { op: 'simple_1x1', bits: 16 } } }));
    expectOneLineError(await run(['train', '--genotype', bad, '--out', join(work, 'never')]), 'tail2.bits');
    expect(existsSync(join(work, 'never'))).toBe(false);
  });

  withData('never overwrites a finished run; --resume --json reads it back; another genotype is refused', async () => {
    const before = readFileSync(join(trained, 'summary.json'), 'utf8');
    expectOneLineError(await run(['train', '--genotype', genotypePath, '--cells', '1', '--out', trained]), 'already holds a finished training run');
    const result = await run(['train', '--genotype', genotypePath, '--cells', '1', '--out', trained, '--resume', '--json']);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    const json = JSON.parse(result.stdout);
    expect(json).toMatchObject({ completed: true, space: 'basic', cells: 1, steps: 4, paths: { best: join(trained, 'best.qnc') } });
    for (const key of ['best_validation_psnr', 'params', 'macs_per_pixel', 'bitops_32x32', 'bitops_per_output_mp']) expect(json[key], key).toBeGreaterThan(0);

    const other = join(work, 'other.json');
    writeFileSync(other, JSON.stringify({ ...genotype, blocks: { ...genotype.blocks, skip: { op: 'simple_3x3', bits: 8 } } }));
    expectOneLineError(await run(['train', '--genotype', other, '--cells', '1', '--out', trained, '--resume']), 'was trained from another genotype');
    expect(readFileSync(join(trained, 'summary.json'), 'utf8')).toBe(before);
  });

  it('refuses to start over an unfinished run and reports a corrupt checkpoint by name', async () => {
    const out = join(work, 'broken');
    mkdirSync(out);
    writeFileSync(join(out, 'train.jsonl'), '');
    expectOneLineError(await run(['train', '--genotype', genotypePath, '--out', out]), 'holds an unfinished training run; resume it');
    writeFileSync(join(out, 'checkpoint.qnc'), 'QNASCKP1 torn');
    expectOneLineError(await run(['train', '--out', out, '--resume']), join(out, 'checkpoint.qnc'), 'no previous checkpoint');
  });
});

describe('quantnas export', () => {
  withData('writes the best checkpoint as a .qnas model, and never overwrites one without --force', async () => {
    const model = join(work, 'model.qnas');
    const result = await run(['export', trained, '--out', model, '--json']);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    const json = JSON.parse(result.stdout);
    const summary = JSON.parse(readFileSync(join(trained, 'summary.json'), 'utf8'));
    expect(json).toMatchObject({ model, epoch: summary.bestEpoch, validation_psnr: summary.bestValidationPsnr, space: 'basic', scale: 4 });
    const { header } = decodeArtifact(readFileSync(model));
    expect(header.scale).toBe(4);
    expect(header.metadata).toMatchObject({
      space: 'basic',
      genotype: { blocks: genotype.blocks },
      training: { epoch: summary.bestEpoch, checkpoint: 'best' },
    });
    // A model file travels: it names no folder of the machine that made it.
    expect(JSON.stringify(header)).not.toContain(work);
    expect(header.metadata!.cost!.bitOpsPerLrPixel).toBeCloseTo(summary.cost.bitops32x32 / 1024, 6);

    const mtime = statSync(model).mtimeMs;
    expectOneLineError(await run(['export', trained, '--out', model]), 'exists; use --force');
    expect(statSync(model).mtimeMs).toBe(mtime);
    const forced = await run(['export', trained, '--out', model, '--force', '--checkpoint', 'last']);
    expect(forced.code).toBe(0);
  });

  withData('names a directory that is not a training run, and writes nothing', async () => {
    const empty = join(work, 'empty');
    mkdirSync(empty);
    const model = join(work, 'none.qnas');
    expectOneLineError(await run(['export', empty, '--out', model]), 'no best checkpoint');
    expectOneLineError(await run(['export', join(work, 'missing'), '--out', model]), 'not a training directory');
    expectOneLineError(await run(['export', trained, '--out', model, '--checkpoint', 'first']), '--checkpoint must be best or last');
    expect(existsSync(model)).toBe(false);
  });
});
