import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { initBackend } from '@quantnas/core-ops';
import { readImageInfo } from '@quantnas/data';
import { testDataRoot } from '@quantnas/data/test-helpers';
import { resolveBaselineTarget, runTraining } from '@quantnas/search';
import { beforeAll, describe, expect, it } from 'vitest';
import { expectOneLineError, runCli as run } from '../test-helpers.js';

const work = mkdtempSync(join(tmpdir(), 'quantnas-cli-run-'));
const runDir = join(work, 'espcn8');
const dataRoot = testDataRoot('cli: quantnas run on a tiny trained baseline', ['Set5', 'T91']);
const withData = it.skipIf(dataRoot === undefined);

// The pipeline's stages continue what their directories hold: a tiny finished training stands in
// for the preset's minutes, and `run` then exports, evaluates and upscales for real.
beforeAll(async () => {
  await initBackend('wasm');
  if (dataRoot === undefined) return;
  const target = await resolveBaselineTarget({ arch: 'espcn', bits: 8, channels: 4 });
  await runTraining({
    ...target,
    out: join(runDir, 'train'),
    preset: 'quick',
    dataRoot,
    trainSets: ['T91'],
    epochs: 1,
    stepsPerEpoch: 2,
    batchSize: 2,
    lrPatchSize: 12,
    validationPatches: 2,
    validationPatchSize: 12,
  });
}, 120_000);

describe('quantnas run', () => {
  it('explains itself', async () => {
    const result = await run(['run', '--help']);
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/Searches a genotype[\s\S]*--out <dir>[\s\S]*--preset[\s\S]*--space[\s\S]*--arch[\s\S]*--bits[\s\S]*--json/);
  });

  it.each([
    [['--preset', 'paper'], "--preset must be one of smoke, quick, cpu, got 'paper'"],
    [['--arch', 'fsrcnn', '--space', 'rfdn'], '--arch and --space exclude each other'],
    [['--cells', '2'], '--cells applies to --arch only'],
    [['--channels', '0'], '--channels must be'],
    [['--arch', 'fsrcnn', '--penalty', '0.1'], '--penalty, --mode, --adq, --entropy, --derive, --path-sampling and --latency-* apply to the search'],
    [['--arch', 'fsrcnn', '--mode', 'direct'], '--arch has none'],
    [['--mode', 'float'], "--mode must be one of noise, direct, fp, got 'float'"],
    [['--adq', 'yes'], "--adq must be on or off, got 'yes'"],
    [['--bits', '4,9'], "--bits must list bit-widths from 2..8 and 32, got '4,9'"],
    [['--mode', 'fp', '--bits', '4,8'], "with --mode fp, --bits is the one bit-width the genotype is quantized to afterwards, got '4,8'"],
    [['--preset', 'smoke', '--entropy', 'max'], "--entropy must be one of entropy, none, l1-alpha, l1-softmax, got 'max'"],
    [['--arch', 'fsrcnn', '--derive', 'path'], '--arch has none'],
    [['--arch', 'fsrcnn', '--bits', '9'], '--bits must be 2..8 or 32, got 9'],
  ])('rejects %j', async (args, message) => {
    const result = await run(['run', '--out', join(work, 'never'), ...args]);
    expect(result.code).not.toBe(0);
    expect(result.stderr).toContain(message);
    expect(existsSync(join(work, 'never'))).toBe(false);
  });

  it('checks for the data before it creates the output folder, and says how to get it', async () => {
    const empty = mkdtempSync(join(tmpdir(), 'quantnas-cli-run-nodata-'));
    const out = join(work, 'no-data');
    const result = await run(['run', '--out', out], { QUANTNAS_DATA: empty });
    expectOneLineError(result, empty, 'quantnas data fetch --sets T91,BSD200,Set5,Set14,B100');
    expect(existsSync(out)).toBe(false);
  });

  withData(
    'finishes a baseline run: export, evaluation next to bicubic, a sample, run.json; a report reads it',
    async () => {
      const result = await run(['run', '--arch', 'espcn', '--bits', '8', '--channels', '4', '--out', runDir, '--sets', 'Set5', '--json']);
      expect(result.stderr).not.toMatch(/internal error/);
      expect(result.code).toBe(0);
      const summary = JSON.parse(result.stdout);
      expect(summary).toMatchObject({ kind: 'baseline', label: 'espcn 8-bit', space: 'espcn', bits: 8, engine: 'int8' });
      expect(summary.sets.Set5.bicubic_psnr).toBeCloseTo(28.43, 1);
      expect(summary.sets.Set5.gain_db).toBeCloseTo(summary.sets.Set5.psnr - summary.sets.Set5.bicubic_psnr, 3);
      expect(summary.bitops_32x32).toBeGreaterThan(0);
      expect(JSON.parse(readFileSync(join(runDir, 'run.json'), 'utf8'))).toEqual(summary);
      expect(existsSync(join(runDir, 'model.qnas'))).toBe(true);
      expect(readFileSync(summary.paths.training_curve, 'utf8')).toMatch(/^<svg/);
      const sample = await readImageInfo(join(runDir, 'sample-x4.png'));
      expect([sample.width % 4, sample.height % 4]).toEqual([0, 0]);
      expect(result.stderr).toMatch(/\[1\/4\] train[\s\S]*\[2\/4\] export[\s\S]*\[3\/4\] evaluate[\s\S]*\[4\/4\] upscale/);

      // A second run directory with another cost, written by hand, and the report over both.
      const other = join(work, 'other');
      mkdirSync(other);
      writeFileSync(
        join(other, 'run.json'),
        JSON.stringify({
          ...summary,
          kind: 'searched',
          label: 'searched',
          bitops_32x32: summary.bitops_32x32 / 2,
          sets: { Set5: { ...summary.sets.Set5, psnr: summary.sets.Set5.psnr + 1 } },
        }),
      );
      const report = await run(['report', runDir, other, '--out', join(work, 'report'), '--json']);
      expect(report.code).toBe(0);
      const parsed = JSON.parse(report.stdout);
      expect(parsed.runs.map((r: { label: string; pareto: boolean }) => [r.label, r.pareto])).toEqual([
        ['espcn 8-bit', false],
        ['searched', true],
      ]);
      const md = readFileSync(join(work, 'report.md'), 'utf8');
      expect(md).toMatch(/\| searched \| searched \| quick \|[^\n]*★ \|/);
      expect(md).toContain('| espcn 8-bit | baseline |');
      // The plot is linked by its name beside the markdown, so the pair can be moved together.
      expect(md).toContain('![Set5 PSNR against BitOps](report.svg)');
      expect(md).not.toContain(work);
      const svg = readFileSync(join(work, 'report.svg'), 'utf8');
      expect(svg).toMatch(/^<svg[\s\S]*<\/svg>\n$/);
      for (const part of [
        /<circle [^>]*fill="#d62728"\/>\s*<text [^>]*>searched</,
        /<rect [^>]*fill="#1f77b4"\/>\s*<text [^>]*>espcn 8-bit</,
        />bicubic 28\.4\d</,
      ])
        expect(svg).toMatch(part);

      // The report's files are kept unless --force.
      const again = await run(['report', runDir, other, '--out', join(work, 'report')]);
      expect(again.code).not.toBe(0);
      expect(again.stderr).toMatch(/^quantnas: .*report\.md: exists; use --force to replace it\n$/);
      expect(readFileSync(join(work, 'report.md'), 'utf8')).toBe(md);
      expect((await run(['report', runDir, other, '--out', join(work, 'report'), '--force'])).code).toBe(0);
    },
    120_000,
  );

  withData(
    'passes the search choices on: a full-precision search at the smoke preset, quantized to 8 bits afterwards',
    async () => {
      const out = join(work, 'fp8');
      const result = await run([
        'run',
        '--preset',
        'smoke',
        '--mode',
        'fp',
        '--adq',
        'off',
        '--entropy',
        'none',
        '--bits',
        '8',
        '--out',
        out,
        '--sets',
        'Set5',
        '--workers',
        '1',
        '--json',
      ]);
      expect(result.stderr).not.toMatch(/internal error/);
      expect(result.code).toBe(0);
      const summary = JSON.parse(result.stdout);
      expect(summary).toMatchObject({
        kind: 'searched',
        label: 'rfdn-bicubic searched (fp, ADQ off, entropy none, quantized to 8 bits)',
        preset: 'smoke',
        software: { quantnas: expect.stringMatching(/^\d+\.\d+\.\d+/), node: process.version },
      });
      const config = JSON.parse(readFileSync(join(out, 'search', 'summary.json'), 'utf8')).config;
      expect(config).toMatchObject({ preset: 'smoke', mode: 'fp', adq: false, entropy: 'none' });
      // The search ran at full precision; the training after it at 8 bits.
      const searched = JSON.parse(readFileSync(join(out, 'search', 'genotype.json'), 'utf8'));
      expect(new Set(Object.values(searched.blocks as Record<string, { bits: number }>).map((b) => b.bits))).toEqual(new Set([32]));
      const bits = Object.values(summary.genotype.blocks as Record<string, { bits: number }>).map((b) => b.bits);
      expect(new Set(bits)).toEqual(new Set([8]));
    },
    120_000,
  );

  withData('refuses a training width the space cannot take before it searches or creates anything', async () => {
    const out = join(work, 'c18');
    const result = await run(['run', '--channels', '18', '--out', out]);
    expectOneLineError(result, "cannot train a genotype of 'rfdn-bicubic' at 18 channels", 'not divisible by 2 groups');
    expect(existsSync(out)).toBe(false);
  });

  withData('report: a directory without run.json or a set it was not evaluated on is a clear error', async () => {
    const missing = await run(['report', work, '--out', join(work, 'r2')]);
    expect(missing.code).not.toBe(0);
    expect(missing.stderr).toContain('no run summary');
    const noSet = await run(['report', runDir, '--out', join(work, 'r2'), '--set', 'B100']);
    expect(noSet.stderr).toContain('was not evaluated on B100');
    expect(existsSync(join(work, 'r2.md'))).toBe(false);
  });
});
