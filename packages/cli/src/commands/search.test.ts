import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { initBackend } from '@quantnas/core-ops';
import { testDataRoot } from '@quantnas/data/test-helpers';
import { runSearch } from '@quantnas/search';
import { beforeAll, describe, expect, it } from 'vitest';
import { expectOneLineError, runCli as run } from '../test-helpers.js';

const work = mkdtempSync(join(tmpdir(), 'quantnas-cli-search-'));

const dataRoot = testDataRoot('cli: search on a tiny T91 search', ['T91']);
/** A shipped space document as JSON, to edit into a user's document. */
const shippedSpace = (id: string) => JSON.parse(readFileSync(new URL(`../../../search-spaces/src/spaces/${id}.json`, import.meta.url), 'utf8'));

describe('quantnas search', () => {
  beforeAll(async () => {
    await initBackend('wasm');
  });

  it('explains itself', async () => {
    const result = await run(['search', '--help']);
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('Usage: quantnas search');
    expect(result.stdout).toMatch(
      /--space <space>[\s\S]*--preset <name>[\s\S]*--penalty[\s\S]*--mode[\s\S]*--adq[\s\S]*--bits[\s\S]*--seed[\s\S]*--resume[\s\S]*--json/,
    );
    expect(result.stdout).toContain('--workers <n>');
  });

  it.each([
    [['--penalty', 'lots'], "--penalty must be a number ≥ 0, got 'lots'"],
    [['--mode', 'exact'], "--mode must be one of noise, direct, fp, got 'exact'"],
    [['--adq', 'yes'], "--adq must be on or off, got 'yes'"],
    [['--bits', '4,9'], "--bits must list bit-widths from 2..8 and 32, got '4,9'"],
    [['--preset', 'huge'], "--preset must be one of smoke, quick, cpu, paper, got 'huge'"],
    [['--seed', '1.5'], "--seed must be an integer ≥ 0, got '1.5'"],
    [['--backend', 'tpu'], '--backend'],
    [['--workers', '0'], "--workers must be an integer ≥ 1, got '0'"],
    [['--workers', '9'], 'workers (9) must not exceed batchSize (8)'],
  ])('rejects %j with one line', async (extra, message) => {
    expectOneLineError(await run(['search', '--space', 'rfdn', '--out', join(work, 'never'), ...extra]), message);
  });

  it("searches a user's document at the width and scale it states, not the preset's", async () => {
    const doc = join(work, 'c4x2.json');
    writeFileSync(doc, JSON.stringify({ ...shippedSpace('espcn'), id: 'c4x2', channels: 4, scale: 2 }));
    const out = join(work, 'c4x2');
    const result = await run(['search', '--space', doc, '--epochs', '2', '--out', out, '--json']);
    expect(result.code).toBe(0);
    const json = JSON.parse(result.stdout);
    expect([json.genotype.channels, json.genotype.scale]).toEqual([4, 2]);
  }, 120_000);

  it.each([
    ['channels', 1e9, 'channels must be at most 1024'],
    ['scale', 1000, 'scale must be at most 16'],
  ])('refuses a document with %s %d in one line, before any work', async (key, value, message) => {
    const doc = join(work, `huge-${key}.json`);
    writeFileSync(doc, JSON.stringify({ ...shippedSpace('basic'), [key]: value }));
    const out = join(work, `huge-${key}`);
    expectOneLineError(await run(['search', '--space', doc, '--out', out]), doc, `$.${key}`, message);
  });

  it('names an unknown space', async () => {
    expectOneLineError(await run(['search', '--space', join(work, 'nope.json'), '--out', join(work, 'never')]), 'nope.json');
  });

  it.skipIf(dataRoot === undefined)('never overwrites a finished run; --resume --json reads it back', async () => {
    const out = join(work, 'done');
    await runSearch({
      space: 'basic',
      out,
      dataRoot,
      channels: 6,
      cells: 1,
      epochs: 2,
      warmupEpochs: 1,
      stepsPerEpoch: 1,
      batchSize: 1,
      lrPatchSize: 8,
      validationPatches: 1,
      validationPatchSize: 8,
      trainSets: ['T91'],
    });
    expectOneLineError(await run(['search', '--space', 'basic', '--out', out]), 'already holds a finished search');
    const result = await run(['search', '--space', 'basic', '--out', out, '--resume', '--json']);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    const json = JSON.parse(result.stdout);
    expect(json).toMatchObject({ completed: true, space: 'basic', paths: { genotype: join(out, 'genotype.json') } });
    expect(Object.keys(json.genotype.blocks).length).toBeGreaterThan(0);
    expect(json.bitops_32x32).toBeGreaterThan(0);
    expect(json.macs_per_pixel).toBeGreaterThan(0);
  });

  it('refuses to start over an unfinished run and reports a corrupt checkpoint by name', async () => {
    const out = join(work, 'broken');
    mkdirSync(out);
    writeFileSync(join(out, 'search.jsonl'), '');
    expectOneLineError(await run(['search', '--space', 'basic', '--out', out]), 'holds an unfinished search; resume it');
    writeFileSync(join(out, 'checkpoint.qnc'), 'QNASCKP1 torn');
    expectOneLineError(await run(['search', '--space', 'basic', '--out', out, '--resume']), join(out, 'checkpoint.qnc'), 'no previous checkpoint');
  });
});

/** `bench search-step` on a tiny basic supernet: one timed step, no warm-up. */
const TINY_SEARCH_STEP = ['bench', 'search-step', '--space', 'basic', '--channels', '6', '--size', '8', '--batch', '1', '--steps', '1', '--warmup', '0'];

describe('quantnas bench search-step', () => {
  it('prints noise and direct step times on fused and reference kernels, with kernels per step, conv share and the ratios', async () => {
    const result = await run([...TINY_SEARCH_STEP, '--json']);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    const json = JSON.parse(result.stdout);
    expect(json.noise_ms).toBeGreaterThan(0);
    expect(json.direct_ms).toBeGreaterThan(0);
    expect(json.speedup).toBeCloseTo(json.direct_ms / json.noise_ms, 10);
    // The top level is the first mode (noise): fused and reference side by side.
    for (const path of ['fused', 'reference']) {
      expect(json[path].ms).toBeGreaterThan(0);
      expect(json[path].kernels).toBeGreaterThan(0);
      expect(json[path].conv_share).toBeGreaterThan(0);
      expect(json[path].conv_share).toBeLessThanOrEqual(1);
    }
    expect(json.noise_ms).toBe(json.fused.ms);
    expect(json.fused_kernels_available).toBe(true);
    expect(json.speedup_vs_reference).toBeCloseTo(json.reference.ms / json.fused.ms, 10);
    expect(json.modes.direct.fused.kernels).toBeLessThan(json.modes.direct.reference.kernels);
    expect(json.fused.kernels).toBeLessThan(json.reference.kernels / 3);
  });

  it("times a preset's supernet, as text", async () => {
    const result = await run([
      'bench',
      'search-step',
      '--preset',
      'quick',
      '--batch',
      '1',
      '--size',
      '15',
      '--steps',
      '1',
      '--warmup',
      '0',
      '--modes',
      'noise',
    ]);
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('search step (α + w) of rfdn-bicubic (preset quick) C=12 cells=1, batch 1 of 15×15 LR');
    expect(result.stdout).toMatch(/^noise\s+fused\s+[\d.]+\s+\d+\s+\d+%/m);
    expect(result.stdout).toMatch(/^noise\s+reference\s+[\d.]+\s+\d+\s+\d+%/m);
    expect(result.stdout).toMatch(/noise: fused kernels [\d.]+× as fast as reference, [\d.]+× fewer kernels/);
    expectOneLineError(await run(['bench', 'search-step', '--preset', 'paper']), '--preset must be quick or cpu');
    expectOneLineError(await run(['bench', 'search-step', '--kernels', 'fused,fast']), '--kernels must list distinct paths');
  });
  it('times only the modes asked for, and refuses unknown ones', async () => {
    const result = await run([...TINY_SEARCH_STEP, '--modes', 'noise', '--json']);
    expect(result.code).toBe(0);
    const json = JSON.parse(result.stdout);
    expect(json.noise_ms).toBeGreaterThan(0);
    expect(json).not.toHaveProperty('direct_ms');
    expect(json).not.toHaveProperty('speedup');
    expectOneLineError(await run(['bench', 'search-step', '--modes', 'noise,bogus']), '--modes must list distinct modes');
  });
});
