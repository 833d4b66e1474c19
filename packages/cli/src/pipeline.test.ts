import { cpSync, existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { initBackend } from '@quantnas/core-ops';
import { testDataRoot } from '@quantnas/data/test-helpers';
import { runSearch, runTraining } from '@quantnas/search';
import { beforeAll, describe, expect, it } from 'vitest';
import type { CliIo } from './io.js';
import { runPipeline } from './pipeline.js';

const work = mkdtempSync(join(tmpdir(), 'quantnas-pipeline-'));
const dataRoot = testDataRoot('cli: runPipeline on a tiny search', ['Set5', 'T91']);
const withData = it.skipIf(dataRoot === undefined);
const runDir = join(work, 'searched');
const wideDir = join(work, 'searched-wide');

// The stages continue what their folders hold: a tiny finished search and the training of its
// genotype stand in for the preset's minutes; the pipeline then exports, evaluates and upscales.
beforeAll(async () => {
  await initBackend('wasm');
  if (dataRoot === undefined) return;
  const tiny = { dataRoot, trainSets: ['T91'], batchSize: 2, validationPatches: 2, preset: 'quick' as const };
  await runSearch({
    ...tiny,
    space: 'basic',
    out: join(runDir, 'search'),
    channels: 6,
    cells: 1,
    epochs: 2,
    warmupEpochs: 1,
    stepsPerEpoch: 2,
    lrPatchSize: 8,
    validationPatchSize: 8,
    penalty: 1e-3,
    seed: 3,
  });
  await runTraining({
    ...tiny,
    genotype: join(runDir, 'search', 'genotype.json'),
    cells: 1,
    out: join(runDir, 'train'),
    epochs: 1,
    stepsPerEpoch: 2,
    lrPatchSize: 12,
    validationPatchSize: 12,
  });
  // The same search's genotype trained wider (9 channels instead of 6) in a run of its own.
  cpSync(join(runDir, 'search'), join(wideDir, 'search'), { recursive: true });
  await runTraining({
    ...tiny,
    genotype: join(wideDir, 'search', 'genotype.json'),
    channels: 9,
    cells: 1,
    out: join(wideDir, 'train'),
    epochs: 1,
    stepsPerEpoch: 2,
    lrPatchSize: 12,
    validationPatchSize: 12,
  });
}, 120_000);

describe('runPipeline', () => {
  withData(
    'runs the stages of a search in order and returns the typed summary it writes',
    async () => {
      const stderr: string[] = [];
      const io: CliIo = { stdout: () => {}, stderr: (text) => stderr.push(text), env: {}, interactive: false };
      const summary = await runPipeline(io, {
        preset: 'quick',
        out: runDir,
        space: 'basic',
        penalty: 1e-3,
        seed: 3,
        workers: 1,
        sets: ['Set5'],
        dataRoot: dataRoot!,
        continueHint: 'run it again',
      });
      expect(stderr.join('')).toMatch(
        /\[1\/5\] search basic[\s\S]*\[2\/5\] train[\s\S]*\[3\/5\] export[\s\S]*\[4\/5\] evaluate on Set5[\s\S]*\[5\/5\] upscale/,
      );
      const genotype = JSON.parse(readFileSync(join(runDir, 'search', 'genotype.json'), 'utf8'));
      expect(summary).toMatchObject({ kind: 'searched', label: 'basic searched λ=0.001', space: 'basic', bits: null, scale: 4, engine: 'int8' });
      expect(summary.genotype).toMatchObject({ space: 'basic', blocks: genotype.blocks });
      expect(summary.bitops_32x32).toBe(genotype.exactBitops);
      expect(summary.sets.Set5!.bicubic_psnr).toBeCloseTo(28.43, 1);
      expect(summary.sets.Set5!.gain_db).toBeCloseTo(summary.sets.Set5!.psnr - summary.sets.Set5!.bicubic_psnr, 3);
      // The checkpointed stages report their own working time, read back from their summaries.
      const searched = JSON.parse(readFileSync(join(runDir, 'search', 'summary.json'), 'utf8'));
      expect(summary.seconds.search).toBeCloseTo(searched.seconds, 1);
      expect(JSON.parse(readFileSync(join(runDir, 'run.json'), 'utf8'))).toEqual(summary);
      for (const key of ['search', 'genotype', 'genotype_svg', 'train', 'model', 'sample'] as const) expect(existsSync(summary.paths[key]!), key).toBe(true);
    },
    120_000,
  );

  withData(
    'trains the searched genotype at the width asked for and says so in the label',
    async () => {
      const io: CliIo = { stdout: () => {}, stderr: () => {}, env: {}, interactive: false };
      const options = { preset: 'quick', space: 'basic', penalty: 1e-3, seed: 3, workers: 1, sets: ['Set5'], dataRoot: dataRoot!, continueHint: '' } as const;
      // The training folder holds the 9-channel run: continuing it at the searched width is refused.
      await expect(runPipeline(io, { ...options, out: wideDir })).rejects.toThrow(/was trained from another genotype/);
      const summary = await runPipeline(io, { ...options, out: wideDir, trainChannels: 9 });
      expect(summary.label).toBe('basic searched λ=0.001 (trained at C 9)');
      const searched = JSON.parse(readFileSync(join(wideDir, 'search', 'genotype.json'), 'utf8'));
      expect(summary.genotype).toMatchObject({ space: 'basic', channels: 9, blocks: searched.blocks });
      expect(searched.channels).toBe(6);
      expect(summary.params).toBeGreaterThan(JSON.parse(readFileSync(join(runDir, 'run.json'), 'utf8')).params);
    },
    120_000,
  );
});
