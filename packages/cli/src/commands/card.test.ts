import { existsSync } from 'node:fs';
import { cp, mkdir, mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { bicubicDownscale, encodePng, type ImageU8 } from '@quantnas/data';
import { testDataRoot } from '@quantnas/data/test-helpers';
import { modelCard, modelPath, type ModelCard } from '@quantnas/models';
import { decodeArtifact } from '@quantnas/runtime';
import { beforeAll, describe, expect, it } from 'vitest';
import { expectOneLineError, runCli as run } from '../test-helpers.js';

function picture(width: number, height: number): ImageU8 {
  const data = new Uint8Array(width * height * 3);
  for (let i = 0; i < data.length; i++) data[i] = (30 + ((i * 13) % 151) + ((i * i) >> 11)) & 0xff;
  return { width, height, channels: 3, data };
}

// A run directory as `quantnas run` leaves it, for the bundled model (its genotype and cost), and a
// two-image x4 set: the card's command and numbers come from these files, measured, not copied.
let work: string;
let runDir: string;
let dataRoot: string;
const header = decodeArtifact(new Uint8Array(await readFile(modelPath()))).header;
const meta = header.metadata as Record<string, any>;

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'quantnas-card-'));
  runDir = join(work, 'run');
  await mkdir(join(runDir, 'search'), { recursive: true });
  await mkdir(join(runDir, 'train'), { recursive: true });
  await writeFile(
    join(runDir, 'run.json'),
    JSON.stringify({
      schemaVersion: 1,
      kind: 'searched',
      preset: 'quick',
      space: 'rfdn-bicubic',
      bits: null,
      scale: 4,
      genotype: meta.genotype,
      params: meta.cost.params,
      bitops_32x32: meta.cost.bitOps,
    }),
  );
  await writeFile(
    join(runDir, 'search', 'summary.json'),
    JSON.stringify({
      steps: 600,
      config: { penalty: 0.01, seed: 7, workers: 1, trainSets: ['T91'], pathSampling: 'none', derive: 'checked', mode: 'noise', adq: true },
    }),
  );
  await writeFile(
    join(runDir, 'train', 'summary.json'),
    JSON.stringify({
      steps: 3000,
      bestEpoch: 9,
      bestValidationPsnr: 28.5,
      genotype: meta.genotype,
      cells: 1,
      config: { seed: 7, workers: 1, trainSets: ['T91', 'BSD200'] },
    }),
  );
  dataRoot = join(work, 'data');
  const set = join(dataRoot, 'Pair');
  await mkdir(set, { recursive: true });
  let csv = 'scale,lr,hr,hr_crop_height,hr_crop_width,lr_source\n';
  for (const [name, hr] of [
    ['a', picture(192, 160)],
    ['b', picture(176, 208)],
  ] as const) {
    await writeFile(join(set, `${name}.png`), encodePng(hr));
    await writeFile(join(set, `${name}x4.png`), encodePng(bicubicDownscale(hr, 4)));
    csv += `4,${name}x4.png,${name}.png,${hr.height},${hr.width},test\n`;
  }
  await writeFile(join(set, 'pairs.csv'), csv);
});

describe('quantnas card', () => {
  it('writes card.json and card.md from the model, the run and an evaluation', async () => {
    const out = join(work, 'card-a');
    const result = await run(['card', '--model', modelPath(), '--run', runDir, '--out', out, '--sets', 'Pair', '--data', dataRoot, '--json']);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    const card = JSON.parse(await readFile(join(out, 'card.json'), 'utf8')) as ModelCard;
    expect(JSON.parse(result.stdout)).toEqual(card);
    expect(card).toMatchObject({
      name: 'card-a',
      file: 'model.qnas',
      scale: 4,
      params: meta.cost.params,
      bitOps32x32: meta.cost.bitOps,
      genotype: meta.genotype,
    });
    // The model travels with its card.
    expect((await readFile(join(out, 'model.qnas'))).equals(await readFile(modelPath()))).toBe(true);
    // The command: the run's options as `quantnas run` takes them, the worker count always written out.
    expect(card.training).toMatchObject({
      command: 'quantnas run --preset quick --penalty 1e-2 --derive checked --path-sampling none --seed 7 --workers 1 --out DIR',
      seed: 7,
      workers: 1,
      trainSets: ['T91', 'BSD200'],
      searchSteps: 600,
      trainSteps: 3000,
    });
    // The numbers are eval's, to its JSON precision.
    const evaluated = await run(['eval', '--model', modelPath(), '--engine', 'int8', '--scale', '4', '--sets', 'Pair', '--data', dataRoot, '--json']);
    const bicubic = await run(['eval', '--model', 'bicubic', '--scale', '4', '--sets', 'Pair', '--data', dataRoot, '--json']);
    const e = JSON.parse(evaluated.stdout).sets.Pair;
    const b = JSON.parse(bicubic.stdout).sets.Pair;
    expect(card.evaluation.sets.Pair).toEqual({ images: 2, psnr: e.psnr, ssim: e.ssim, bicubicPsnr: b.psnr, bicubicSsim: b.ssim });
    const md = await readFile(join(out, 'card.md'), 'utf8');
    expect(md).toContain(card.training.command);
    expect(md).toContain(`| Pair | 2 | ${e.psnr.toFixed(2)} | ${e.ssim.toFixed(4)} | ${b.psnr.toFixed(2)} |`);
    expect(md).toContain('- training data: T91 + BSD200');
    expect(md).toContain(card.sha256);
  });

  it('refuses to replace a card without --force, then replaces it with --force', async () => {
    const out = join(work, 'card-a');
    const args = ['card', '--model', modelPath(), '--run', join(runDir, 'run.json'), '--out', out, '--sets', 'Pair', '--data', dataRoot];
    expectOneLineError(await run(args), join(out, 'card.json'), '--force');
    const again = await run([...args, '--force', '--name', 'renamed']);
    expect(again.code).toBe(0);
    expect(JSON.parse(await readFile(join(out, 'card.json'), 'utf8')).name).toBe('renamed');
  });

  it("refuses a model that is not the run's, and a missing run, in one line", async () => {
    const other = join(work, 'other-run');
    await mkdir(join(other, 'train'), { recursive: true });
    const genotype = structuredClone(meta.genotype);
    // Another bit-width for the tail than the bundled model's, whichever it has.
    genotype.blocks.tail.bits = genotype.blocks.tail.bits === 8 ? 4 : 8;
    await writeFile(join(other, 'run.json'), JSON.stringify({ schemaVersion: 1, kind: 'baseline', preset: 'quick', space: 'rfdn-bicubic', bits: 8, genotype }));
    await writeFile(join(other, 'train', 'summary.json'), JSON.stringify({ steps: 3000, genotype, config: { seed: 1, workers: 2 } }));
    const out = join(work, 'never');
    expectOneLineError(
      await run(['card', '--model', modelPath(), '--run', other, '--out', out, '--data', dataRoot]),
      'is not the model of',
      'genotypes differ',
    );
    expectOneLineError(
      await run(['card', '--model', modelPath(), '--run', join(work, 'none'), '--out', out, '--data', dataRoot]),
      join(work, 'none', 'run.json'),
      'no such file',
    );
    expect(existsSync(out)).toBe(false);
  });

  it('writes --channels for a genotype trained wider than its search, and refuses stages run on different worker counts', async () => {
    const wide = join(work, 'run-wide');
    await cp(runDir, wide, { recursive: true });
    const searchSummary = join(wide, 'search', 'summary.json');
    const summary = JSON.parse(await readFile(searchSummary, 'utf8'));
    await writeFile(searchSummary, JSON.stringify({ ...summary, config: { ...summary.config, channels: meta.genotype.channels / 2 } }));
    const out = join(work, 'card-wide');
    const result = await run(['card', '--model', modelPath(), '--run', wide, '--out', out, '--sets', 'Pair', '--data', dataRoot, '--json']);
    expect(result.code).toBe(0);
    expect(JSON.parse(result.stdout).training.command).toBe(
      `quantnas run --preset quick --penalty 1e-2 --derive checked --path-sampling none --channels ${meta.genotype.channels} --seed 7 --workers 1 --out DIR`,
    );

    await writeFile(searchSummary, JSON.stringify({ ...summary, config: { ...summary.config, workers: 2 } }));
    expectOneLineError(
      await run(['card', '--model', modelPath(), '--run', wide, '--out', join(work, 'never3'), '--sets', 'Pair', '--data', dataRoot]),
      'its search ran on 2 worker(s) and its training on 1',
    );
    expect(existsSync(join(work, 'never3'))).toBe(false);
  });

  it("writes a latency-penalised search's --latency-penalty, and where its table is", async () => {
    const timed = join(work, 'run-latency');
    await cp(runDir, timed, { recursive: true });
    const searchSummary = join(timed, 'search', 'summary.json');
    const summary = JSON.parse(await readFile(searchSummary, 'utf8'));
    await writeFile(
      searchSummary,
      JSON.stringify({ ...summary, config: { ...summary.config, latencyPenalty: 0.01, latencyTable: { kind: 'quantnas-latency-table' } } }),
    );
    const out = join(work, 'card-latency');
    const result = await run(['card', '--model', modelPath(), '--run', timed, '--out', out, '--sets', 'Pair', '--data', dataRoot, '--json']);
    expect(result.code).toBe(0);
    const card = JSON.parse(result.stdout);
    expect(card.training.command).toBe(
      'quantnas run --preset quick --penalty 1e-2 --derive checked --path-sampling none --latency-table TABLE.json --latency-penalty 1e-2 --seed 7 --workers 1 --out DIR',
    );
    expect(card.training.search.latencyPenalty).toBe(0.01);
    expect(await readFile(join(out, 'card.md'), 'utf8')).toContain("`TABLE.json`: the search's latency table, as recorded in the run's `search/summary.json`");
  });

  it('refuses a model without a stated cost', async () => {
    const { syntheticRfdn, encodeArtifact } = await import('@quantnas/runtime');
    const synthetic = join(work, 'synthetic.qnas');
    const artifact = syntheticRfdn({ channels: 12, cells: 1, scale: 4, seed: 1 });
    await writeFile(synthetic, encodeArtifact({ header: { ...artifact.header, metadata: { genotype: meta.genotype } }, blob: artifact.blob }));
    expectOneLineError(
      await run(['card', '--model', synthetic, '--run', runDir, '--out', join(work, 'never2'), '--data', dataRoot]),
      'synthetic.qnas',
      'states no cost',
    );
  });
});

// The shipped card against the shipped model: its header (fast), and its Set5 numbers (the data).
describe("the bundled model's card", () => {
  const card = modelCard();

  it("states what the model's header states", () => {
    expect(card.scale).toBe(header.scale);
    expect(card.params).toBe(meta.cost.params);
    expect(card.macsPerLrPixel).toBe(meta.cost.macsPerLrPixel);
    expect(card.bitOps32x32).toBe(meta.cost.bitOps);
    expect(card.genotype).toEqual(meta.genotype);
  });

  const root = testDataRoot('cli: the bundled model reproduces its card on Set5', ['Set5']);
  it.skipIf(root === undefined)("reproduces its card's Set5 PSNR and SSIM with the int8 engine", async () => {
    const result = await run(['eval', '--model', modelPath(), '--engine', 'int8', '--scale', '4', '--sets', 'Set5', '--data', root!, '--json']);
    expect(result.code).toBe(0);
    const set5 = JSON.parse(result.stdout).sets.Set5;
    expect(set5.images).toBe(card.evaluation.sets.Set5!.images);
    // Exactly: the integer engine and the metrics are deterministic, and both are rounded alike.
    expect(set5.psnr).toBe(card.evaluation.sets.Set5!.psnr);
    expect(set5.ssim).toBe(card.evaluation.sets.Set5!.ssim);
  });
});
